import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenBucket, TokenBuckets } from '../../src/transport/rateLimiter.js';

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

describe('TokenBuckets', () => {
  it('keeps one budget per key, made on first use', () => {
    const buckets = new TokenBuckets(1, 2, 0);
    expect([buckets.take('ada', 0), buckets.take('ada', 0), buckets.take('ada', 0)]).toEqual([true, true, false]);
    expect(buckets.take('bob', 0)).toBe(true);
    expect(buckets.available('ada', 0)).toBe(false);
    expect(buckets.available('carol', 0)).toBe(true);
    expect(buckets.size).toBe(2);
  });

  it('keeps a drained budget until it refilled, then drops full ones when a new key comes, at most once per refill time', () => {
    // burst 4 at 1/s: a drained bucket is full again after 4 s.
    const buckets = new TokenBuckets(1, 4, 0);
    const drain = (key: string, now: number) => {
      while (buckets.take(key, now));
    };
    drain('ada', 0);
    buckets.take('bob', 0);
    expect(buckets.take('ada', 500)).toBe(false);
    drain('carol', 3_000);
    expect(buckets.size).toBe(3);
    // At 4 s ada's and bob's buckets are full again, carol's is not: a new key sweeps the full ones.
    buckets.take('dave', 4_000);
    expect(buckets.size).toBe(2);
    expect(buckets.available('ada', 4_000)).toBe(true);
    expect(buckets.take('carol', 4_000)).toBe(true);
    expect(buckets.take('carol', 4_000)).toBe(false);
  });
});
