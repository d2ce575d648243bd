/** The charts' warning levels and their 15-minute series, without a browser. */
import { describe, expect, it } from 'vitest';
import { CHART_WINDOW_MS, mergeSamples, type Sample } from '../src/adminLink.js';
import { levelOf, THRESHOLDS } from '../src/thresholds.js';

const sample = (at: number, connections = 1): Sample => ({
  at,
  connections,
  published: 0,
  delivered: 0,
  refusals: 0,
  slowConsumerCloses: 0,
  reconnects: 0,
  eventLoopDelayP99Ms: 0,
  rssBytes: 0,
});

describe('levelOf', () => {
  it('is ok below the warning level, warning from it, critical from the critical level', () => {
    expect(levelOf(99, THRESHOLDS.eventLoopDelayP99Ms)).toBe('ok');
    expect(levelOf(100, THRESHOLDS.eventLoopDelayP99Ms)).toBe('warning');
    expect(levelOf(500, THRESHOLDS.eventLoopDelayP99Ms)).toBe('critical');
    expect(levelOf(1_000_000, undefined)).toBe('ok');
  });
});

describe('mergeSamples', () => {
  it('keeps each interval once, oldest first, and only the last 15 minutes', () => {
    const history = [sample(0), sample(1_000), sample(2_000)];
    const live = [sample(2_000, 5), sample(CHART_WINDOW_MS + 1_500)];
    const merged = mergeSamples(history, live);
    expect(merged.map((s) => s.at)).toEqual([2_000, CHART_WINDOW_MS + 1_500]);
    expect(merged[0]?.connections).toBe(5);
  });
});
