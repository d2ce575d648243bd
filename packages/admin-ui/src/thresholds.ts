/**
 * Where the charts turn to warning and critical colours (and say so in
 * words). Listed in docs/admin.md; change both together.
 */
export interface Threshold {
  /** At or above: warning. */
  readonly warn: number;
  /** At or above: critical. */
  readonly critical: number;
}

export const THRESHOLDS = {
  /** The slowest node's event-loop delay, p99 over an interval: every message waits this long. */
  eventLoopDelayP99Ms: { warn: 100, critical: 500 },
  /** The largest node's resident memory. */
  rssBytes: { warn: 1024 ** 3, critical: 2 * 1024 ** 3 },
  /** Connections and requests refused, per second, over the cluster (any reason). */
  refusals: { warn: 1, critical: 10 },
  /** Subscribers closed for falling behind, per second. */
  slowConsumerCloses: { warn: 0.1, critical: 1 },
} as const satisfies Record<string, Threshold>;

export type Level = 'ok' | 'warning' | 'critical';

export function levelOf(value: number, threshold: Threshold | undefined): Level {
  if (!threshold) return 'ok';
  if (value >= threshold.critical) return 'critical';
  return value >= threshold.warn ? 'warning' : 'ok';
}
