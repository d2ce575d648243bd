import { useId } from 'react';

const WIDTH = 240;
const HEIGHT = 56;
const PADDING = 3;

/** A small line chart of `values` (oldest first), scaled from 0 to its highest value; described for screen readers by its caption and `summary`. */
export function Sparkline({ title, values, current, summary }: { title: string; values: readonly number[]; current: string; summary: string }) {
  const captionId = useId();
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? (WIDTH - PADDING * 2) / (values.length - 1) : 0;
  const points = values
    .map((value, index) => `${(PADDING + index * step).toFixed(1)},${(HEIGHT - PADDING - (value / max) * (HEIGHT - PADDING * 2)).toFixed(1)}`)
    .join(' ');
  return (
    <figure className="chart" data-chart={title}>
      <figcaption id={captionId}>
        <span className="chart__title">{title}</span> <span className="chart__value">{current}</span>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby={captionId} aria-description={summary} preserveAspectRatio="none">
        <line x1={0} y1={HEIGHT - PADDING} x2={WIDTH} y2={HEIGHT - PADDING} className="chart__axis" />
        {values.length > 1 ? <polyline points={points} className="chart__line" /> : null}
      </svg>
    </figure>
  );
}
