import type { Sample } from '../adminLink.js';
import { formatCount, formatRate } from '../format.js';
import { Sparkline } from './Sparkline.js';

const SERIES: readonly { readonly key: Exclude<keyof Sample, 'at'>; readonly title: string; readonly unit: string }[] = [
  { key: 'connections', title: 'Connections', unit: '' },
  { key: 'published', title: 'Published', unit: '/s' },
  { key: 'delivered', title: 'Delivered', unit: '/s' },
  { key: 'refusals', title: 'Refusals', unit: '/s' },
  { key: 'slowConsumerCloses', title: 'Slow-consumer closes', unit: '/s' },
  { key: 'reconnects', title: 'Reconnects', unit: '/s' },
];

/** The cluster's rates since the page opened, one small chart each, and the refusals of the last interval by reason. */
export function RateCharts({ samples, refusals }: { samples: readonly Sample[]; refusals: Readonly<Record<string, number>> }) {
  const last = samples.at(-1);
  const reasons = Object.entries(refusals).sort((a, b) => b[1] - a[1]);
  return (
    <section aria-labelledby="rates-title" className="card">
      <h2 id="rates-title">Rates</h2>
      <div className="charts">
        {SERIES.map(({ key, title, unit }) => {
          const values = samples.map((sample) => sample[key]);
          const now = last ? last[key] : 0;
          const current = unit ? `${formatRate(now)}${unit}` : formatCount(now);
          const peak = Math.max(0, ...values);
          return (
            <Sparkline
              key={key}
              title={title}
              values={values}
              current={current}
              summary={`${values.length} samples, highest ${unit ? formatRate(peak) + unit : formatCount(peak)}`}
            />
          );
        })}
      </div>
      <p className="refusals">
        Refusals by reason:{' '}
        {reasons.length === 0 ? 'none in the last interval' : reasons.map(([reason, perSecond]) => `${reason} ${formatRate(perSecond)}/s`).join(', ')}
      </p>
    </section>
  );
}
