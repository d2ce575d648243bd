/**
 * Outcomes of mutations by idempotency key, so a mutation a client resends
 * after a reconnect runs once and the repeat gets the first outcome. Lives in
 * the broker so a retry that lands on another node finds it.
 */
export interface IdempotencyStore {
  /**
   * Claims `key` for a run. `claimed`: run it, then `complete`. `done`: it ran;
   * here is its outcome. `pending`: another attempt is running it; `wait`.
   * A claim whose run never completes (its process died) lapses after `ttlMs`.
   */
  claim(key: string, ttlMs: number): Promise<ClaimResult>;
  /** Records the outcome of a claimed run for `ttlMs`, and wakes waiters. */
  complete(key: string, outcome: string, ttlMs: number): Promise<void>;
  /** The outcome once the run completes, or null after `timeoutMs`. */
  wait(key: string, timeoutMs: number): Promise<string | null>;
}

/**
 * What `IdempotencyStore.claim` answers: `claimed` (run it now), `pending`
 * (another attempt runs it; wait), or `done` with the stored outcome.
 */
export type ClaimResult = { readonly state: 'claimed' } | { readonly state: 'pending' } | { readonly state: 'done'; readonly outcome: string };

interface Entry {
  outcome: string | null;
  expiresAt: number;
  waiters: Set<(outcome: string) => void>;
}

export function memoryIdempotencyStore(now: () => number = Date.now): IdempotencyStore & { sweep(): void } {
  const entries = new Map<string, Entry>();

  function live(key: string): Entry | undefined {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  }

  return {
    async claim(key, ttlMs) {
      const entry = live(key);
      if (!entry) {
        entries.set(key, { outcome: null, expiresAt: now() + ttlMs, waiters: new Set() });
        return { state: 'claimed' };
      }
      return entry.outcome === null ? { state: 'pending' } : { state: 'done', outcome: entry.outcome };
    },
    async complete(key, outcome, ttlMs) {
      const entry = entries.get(key) ?? { outcome: null, expiresAt: 0, waiters: new Set() };
      entry.outcome = outcome;
      entry.expiresAt = now() + ttlMs;
      entries.set(key, entry);
      for (const wake of entry.waiters) wake(outcome);
      entry.waiters.clear();
    },
    wait(key, timeoutMs) {
      const entry = live(key);
      if (!entry) return Promise.resolve(null);
      if (entry.outcome !== null) return Promise.resolve(entry.outcome);
      return new Promise((resolve) => {
        const wake = (outcome: string | null) => {
          clearTimeout(timer);
          entry.waiters.delete(wake);
          resolve(outcome);
        };
        const timer = setTimeout(() => wake(null), timeoutMs);
        entry.waiters.add(wake);
      });
    },
    sweep() {
      const at = now();
      for (const [key, entry] of entries) if (entry.expiresAt <= at && entry.waiters.size === 0) entries.delete(key);
    },
  };
}
