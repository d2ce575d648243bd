/**
 * A token bucket: `burst` tokens to start with, refilled continuously at
 * `perSecond`, one taken per request. Refilled lazily from the clock on each
 * `take`, so an idle bucket costs no timer.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.refilledAt = now;
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether a token is there, without taking it. */
  available(now: number): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }

  /** Whether it is back to `burst`: then it holds nothing a fresh bucket would not. */
  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
      this.refilledAt = now;
    }
  }
}

/**
 * Token buckets by key (a user, an address), made on first use. A bucket
 * outlives the connections that used it until it has refilled, so closing
 * and reopening a connection does not reset a budget; full buckets are
 * dropped at most once per refill time, so the map holds only keys that
 * were active lately.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private sweptAt: number;
  /** Time a drained bucket takes to refill: a full one older than that is worth nothing. */
  private readonly refillMs: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.sweptAt = now;
    this.refillMs = (burst / perSecond) * 1000;
  }

  /** Takes a token from `key`'s bucket; false when it is empty. */
  take(key: string, now: number): boolean {
    return this.bucket(key, now).take(now);
  }

  /** Whether `key` has a token left, without taking one. */
  available(key: string, now: number): boolean {
    return this.buckets.get(key)?.available(now) ?? true;
  }

  /** Buckets held now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string, now: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      this.sweep(now);
      bucket = new TokenBucket(this.perSecond, this.burst, now);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < this.refillMs) return;
    this.sweptAt = now;
    for (const [key, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(key);
  }
}
