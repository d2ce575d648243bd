import { useId } from 'react';
import { levelOf, type Threshold } from '../thresholds.js';

const WIDTH = 300;
const HEIGHT = 96;
/** Room for the y-axis labels on the left and the time labels below. */
const LEFT = 58;
const BOTTOM = 16;
const TOP = 6;

interface Props {
  readonly title: string;
  /** Oldest first. */
  readonly points: readonly { readonly at: number; readonly value: number }[];
  /** The x axis: from `end - windowMs` to `end`. */
  readonly windowMs: number;
  readonly end: number;
  /** How a value is written, with its unit (`12/s`, `85 ms`, `1.2 GiB`). */
  readonly format: (value: number) => string;
  readonly threshold?: Threshold;
}

/**
 * A line chart over a fixed time window, with a y axis (0 and the top of the
 * scale, in the series' unit), an x axis (window start and now), and the
 * warning level drawn as a dashed line; the line and the value turn to the
 * warning or critical colour, and the caption says so in words.
 */
export function Chart({ title, points, windowMs, end, format, threshold }: Props) {
  const captionId = useId();
  const start = end - windowMs;
  const shown = points.filter((point) => point.at >= start);
  const values = shown.map((point) => point.value);
  const current = values.at(-1) ?? 0;
  const level = levelOf(current, threshold);
  const top = Math.max(threshold ? threshold.warn * 1.25 : 0, ...values, 1);
  const x = (at: number) => LEFT + ((at - start) / windowMs) * (WIDTH - LEFT - 2);
  const y = (value: number) => TOP + (1 - value / top) * (HEIGHT - TOP - BOTTOM);
  const line = shown.map((point) => `${x(point.at).toFixed(1)},${y(point.value).toFixed(1)}`).join(' ');
  const peak = Math.max(0, ...values);
  const minutes = Math.round(windowMs / 60_000);
  const summary = `Last ${minutes} minutes: now ${format(current)}, highest ${format(peak)}${threshold ? `; warning at ${format(threshold.warn)}, critical at ${format(threshold.critical)}` : ''}.`;
  return (
    <figure className={`chart chart--${level}`} data-chart={title} data-level={level}>
      <figcaption id={captionId}>
        <span className="chart__title">{title}</span> <span className="chart__value">{format(current)}</span>
        {level !== 'ok' && <span className="chart__level">{level === 'critical' ? 'critical' : 'warning'}</span>}
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={captionId} aria-description={summary}>
        <line x1={LEFT} y1={TOP} x2={LEFT} y2={HEIGHT - BOTTOM} className="chart__axis" />
        <line x1={LEFT} y1={HEIGHT - BOTTOM} x2={WIDTH} y2={HEIGHT - BOTTOM} className="chart__axis" />
        <text x={LEFT - 4} y={TOP + 8} textAnchor="end" className="chart__label">
          {format(top)}
        </text>
        <text x={LEFT - 4} y={HEIGHT - BOTTOM} textAnchor="end" className="chart__label">
          {format(0)}
        </text>
        <text x={LEFT} y={HEIGHT - 3} className="chart__label">
          −{minutes} min
        </text>
        <text x={WIDTH - 2} y={HEIGHT - 3} textAnchor="end" className="chart__label">
          now
        </text>
        {threshold && threshold.warn <= top && (
          <line x1={LEFT} y1={y(threshold.warn)} x2={WIDTH} y2={y(threshold.warn)} className="chart__threshold" />
        )}
        {shown.length > 1 ? <polyline points={line} className="chart__line" /> : null}
      </svg>
    </figure>
  );
}
