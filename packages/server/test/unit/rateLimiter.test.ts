import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenBucket } from '../../src/connection/rateLimiter.js';

/**
 * How many of `attempts` takes succeed at `now` on the (fake) clock. The
 * bucket is handed `Date.now()`, as a connection hands it on every request.
 */
function takes(bucket: TokenBucket, now: number, attempts: number): number {
  vi.setSystemTime(now);
  let taken = 0;
  for (let i = 0; i < attempts; i++) if (bucket.take(Date.now())) taken++;
  return taken;
}

const take = (bucket: TokenBucket, now: number) => takes(bucket, now, 1) === 1;

describe('TokenBucket', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('allows a burst of `burst` requests at once, then refuses', () => {
    const bucket = new TokenBucket(10, 5, 1_000);
    expect(takes(bucket, 1_000, 5)).toBe(5);
    expect(take(bucket, 1_000)).toBe(false);
  });

  it('refills at `perSecond`, continuously', () => {
    const bucket = new TokenBucket(10, 5, 0);
    expect(takes(bucket, 0, 5)).toBe(5);
    expect(take(bucket, 99)).toBe(false); // 0.99 of a token
    expect(take(bucket, 100)).toBe(true); // one token every 100 ms
    expect(take(bucket, 100)).toBe(false);
    expect(takes(bucket, 350, 10)).toBe(2); // 2.5 tokens more: two whole ones
    expect(takes(bucket, 400, 10)).toBe(1); // the half left, and half of the next
  });

  it('never holds more than `burst` tokens, however long it was idle', () => {
    const bucket = new TokenBucket(10, 5, 0);
    expect(takes(bucket, 3_600_000, 100)).toBe(5);
    expect(takes(bucket, 3_600_000 + 1_000, 100)).toBe(5);
  });

  it('holds the long-run rate under steady pressure', () => {
    const bucket = new TokenBucket(20, 4, 0);
    let taken = 0;
    // A request every millisecond for ten seconds.
    for (let now = 0; now < 10_000; now++) taken += takes(bucket, now, 1);
    expect(taken).toBeGreaterThanOrEqual(4 + 20 * 10 - 1);
    expect(taken).toBeLessThanOrEqual(4 + 20 * 10);
  });

  it('ignores a clock that goes backwards', () => {
    const bucket = new TokenBucket(10, 2, 1_000);
    expect(takes(bucket, 1_000, 2)).toBe(2);
    expect(take(bucket, 500)).toBe(false);
    expect(take(bucket, 1_099)).toBe(false);
    expect(take(bucket, 1_100)).toBe(true);
  });
});
