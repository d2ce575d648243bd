import { CHART_WINDOW_MS, type Sample } from '../adminLink.js';
import { formatBytes, formatCount, formatMs, formatRate } from '../format.js';
import { THRESHOLDS, type Threshold } from '../thresholds.js';
import { Chart } from './Chart.js';

type Series = Exclude<keyof Sample, 'at'>;

const perSecond = (value: number) => `${formatRate(value)}/s`;

const SERIES: readonly { readonly key: Series; readonly title: string; readonly format: (value: number) => string; readonly threshold?: Threshold }[] = [
  { key: 'connections', title: 'Connections', format: formatCount },
  { key: 'published', title: 'Published', format: perSecond },
  { key: 'delivered', title: 'Delivered', format: perSecond },
  { key: 'refusals', title: 'Refusals', format: perSecond, threshold: THRESHOLDS.refusals },
  { key: 'slowConsumerCloses', title: 'Slow-consumer closes', format: perSecond, threshold: THRESHOLDS.slowConsumerCloses },
  { key: 'reconnects', title: 'Reconnects', format: perSecond },
  { key: 'eventLoopDelayP99Ms', title: 'Event-loop delay (p99, slowest node)', format: formatMs, threshold: THRESHOLDS.eventLoopDelayP99Ms },
  { key: 'rssBytes', title: 'Memory (RSS, largest node)', format: formatBytes, threshold: THRESHOLDS.rssBytes },
];

/** The cluster over the last 15 minutes (the server keeps them), one chart each, and the refusals of the last interval by reason. */
export function RateCharts({ samples, refusals }: { samples: readonly Sample[]; refusals: Readonly<Record<string, number>> }) {
  const end = samples.at(-1)?.at ?? 0;
  const reasons = Object.entries(refusals).sort((a, b) => b[1] - a[1]);
  return (
    <section aria-labelledby="rates-title" className="card">
      <h2 id="rates-title">Last 15 minutes</h2>
      <div className="charts">
        {SERIES.map(({ key, title, format, threshold }) => (
          <Chart
            key={key}
            title={title}
            points={samples.map((sample) => ({ at: sample.at, value: sample[key] }))}
            windowMs={CHART_WINDOW_MS}
            end={end}
            format={format}
            {...(threshold ? { threshold } : {})}
          />
        ))}
      </div>
      <p className="refusals">
        Refusals by reason:{' '}
        {reasons.length === 0 ? 'none in the last interval' : reasons.map(([reason, perSecond]) => `${reason} ${formatRate(perSecond)}/s`).join(', ')}
      </p>
    </section>
  );
}
