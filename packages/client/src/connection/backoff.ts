/** The delay between reconnect attempts: capped exponential growth, full jitter (`backoff` of `createHeraldClient`). */
export interface BackoffOptions {
  /**
   * Upper bound of the first retry's delay. The first retry after a drop waits
   * a random time in [0, initialDelayMs].
   * @default 500
   */
  initialDelayMs?: number;
  /**
   * Cap on any delay.
   * @default 30_000
   */
  maxDelayMs?: number;
  /**
   * Growth of the bound per failed attempt.
   * @default 2
   */
  multiplier?: number;
}

/** The defaults of `BackoffOptions`, merged under the options passed. */
export const backoffDefaults = {
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  multiplier: 2,
} satisfies Required<BackoffOptions>;

/**
 * Capped exponential backoff with full jitter: attempt n waits a uniform random
 * time in [0, min(max, initial * multiplier^n)]. Full jitter spreads a crowd of
 * clients that lost the same server over the whole window instead of sending
 * them back in waves (see AWS's "Exponential Backoff And Jitter").
 */
export function fullJitterBackoff(options: BackoffOptions = {}, random: () => number = Math.random): (attempt: number) => number {
  const { initialDelayMs, maxDelayMs, multiplier } = { ...backoffDefaults, ...options };
  return (attempt) => {
    const bound = Math.min(maxDelayMs, initialDelayMs * multiplier ** Math.max(0, attempt));
    return Math.floor(random() * bound);
  };
}
