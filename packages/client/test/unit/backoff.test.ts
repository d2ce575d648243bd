import { describe, expect, it } from 'vitest';
// The delay is a pure function of the attempt and the random draw it is
// handed (the connection owns the timer and the attempt count), so these
// tests pass the draw in and need no clock.
import { backoffDefaults, fullJitterBackoff } from '../../src/connection/backoff.js';

/** A `random` that returns the given values in turn. */
function sequence(...values: number[]): () => number {
  let next = 0;
  return () => values[next++ % values.length] as number;
}

const JUST_BELOW_ONE = 1 - Number.EPSILON;

describe('fullJitterBackoff', () => {
  it('waits random * min(max, initial * 2^attempt), rounded down', () => {
    const options = { initialDelayMs: 100, maxDelayMs: 10_000 };
    expect(fullJitterBackoff(options, () => 0.5)(0)).toBe(50);
    expect(fullJitterBackoff(options, () => 0.5)(1)).toBe(100);
    expect(fullJitterBackoff(options, () => 0.5)(3)).toBe(400);
    expect(fullJitterBackoff(options, () => 0.123)(2)).toBe(Math.floor(0.123 * 400));
  });

  it('keeps every delay in [0, min(max, initial * 2^attempt)]', () => {
    const options = { initialDelayMs: 50, maxDelayMs: 1_000 };
    for (let attempt = 0; attempt < 12; attempt++) {
      const bound = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** attempt);
      expect(fullJitterBackoff(options, () => 0)(attempt)).toBe(0);
      const highest = fullJitterBackoff(options, () => JUST_BELOW_ONE)(attempt);
      expect(highest).toBeLessThanOrEqual(bound);
      expect(highest).toBeGreaterThanOrEqual(bound - 1);
      const delay = fullJitterBackoff(options)(attempt);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(bound);
      expect(Number.isInteger(delay)).toBe(true);
    }
  });

  it('never exceeds the cap, even for huge attempt numbers', () => {
    const delay = fullJitterBackoff({ initialDelayMs: 500, maxDelayMs: 2_000 }, () => JUST_BELOW_ONE);
    expect(delay(2)).toBe(1_999);
    expect(delay(10)).toBe(1_999);
    expect(delay(5_000)).toBe(1_999); // 2^5000 overflows to Infinity; the cap still holds
  });

  it('uses the documented defaults and the multiplier option', () => {
    const atTop = () => JUST_BELOW_ONE;
    expect(backoffDefaults).toEqual({ initialDelayMs: 500, maxDelayMs: 30_000, multiplier: 2 });
    expect(fullJitterBackoff({}, atTop)(0)).toBe(499);
    expect(fullJitterBackoff({}, atTop)(100)).toBe(29_999);
    expect(fullJitterBackoff({ initialDelayMs: 10, multiplier: 3 }, atTop)(2)).toBe(89);
  });

  it('keeps no state: the attempt count the connection resets after an open starts the bounds over', () => {
    const delay = fullJitterBackoff({ initialDelayMs: 100, maxDelayMs: 10_000 }, () => JUST_BELOW_ONE);
    expect([0, 1, 2, 3, 10].map(delay)).toEqual([99, 199, 399, 799, 9_999]);
    // After an open the connection counts from 0 again, and the first delay is short again.
    expect(delay(0)).toBe(99);
    expect(delay(1)).toBe(199);
  });

  it('treats a negative attempt as the first one', () => {
    expect(fullJitterBackoff({ initialDelayMs: 100 }, () => 0.5)(-3)).toBe(50);
  });

  it('draws a new random number for every call', () => {
    const delay = fullJitterBackoff({ initialDelayMs: 1_000, maxDelayMs: 1_000 }, sequence(0.1, 0.9, 0.4));
    expect([delay(0), delay(0), delay(0), delay(0)]).toEqual([100, 900, 400, 100]);
  });

  it('spreads delays with Math.random', () => {
    const delay = fullJitterBackoff({ initialDelayMs: 100, maxDelayMs: 10_000 });
    const samples = Array.from({ length: 200 }, () => delay(3));
    expect(new Set(samples).size).toBeGreaterThan(1);
    for (const sample of samples) {
      expect(sample).toBeGreaterThanOrEqual(0);
      expect(sample).toBeLessThanOrEqual(800);
    }
  });
});
