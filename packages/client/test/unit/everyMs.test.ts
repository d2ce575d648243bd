import { afterEach, describe, expect, it, vi } from 'vitest';
import { everyMs } from '../../src/timers.js';

describe('everyMs', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the tasks of one period on one timer, each until it is stopped, and the others of a tick when one throws', () => {
    vi.useFakeTimers();
    const runs: string[] = [];
    const stopA = everyMs(100, () => runs.push('a'));
    const stopB = everyMs(100, () => {
      runs.push('b');
      throw new Error('b failed');
    });
    const stopC = everyMs(250, () => runs.push('c'));
    expect(vi.getTimerCount()).toBe(2);
    expect(() => vi.advanceTimersByTime(100)).toThrow('b failed');
    expect(runs).toEqual(['a', 'b']);
    stopB();
    vi.advanceTimersByTime(150);
    expect(runs).toEqual(['a', 'b', 'a', 'c']);
    stopA();
    stopA();
    expect(vi.getTimerCount()).toBe(1);
    stopC();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1_000);
    expect(runs).toEqual(['a', 'b', 'a', 'c']);
  });
});
