/**
 * Outcomes of mutations by idempotency key, so a mutation a client resends
 * after a reconnect runs once and the repeat gets the first outcome. Lives in
 * the broker so a retry that lands on another node finds it.
 *
 * A key is free, claimed (by one attempt, its `owner`), released (claimed,
 * but the attempt ended without a known outcome: the next claim runs it
 * again), or done (its outcome stored):
 *
 *     free ──claim──▶ claimed ──complete──▶ done
 *                       │  ▲
 *               release │  │ claim (a retry)
 *                       ▼  │
 *                     released
 */
export interface IdempotencyStore {
  /**
   * Claims `key` for a run by `owner` (a token naming this attempt). `claimed`:
   * run it, then `complete` (or `release`). `done`: it ran; here is its
   * outcome. `pending`: another attempt is running it; `wait`. A released key
   * is claimed again. A claim whose run never completes (its process died)
   * lapses after `ttlMs`.
   */
  claim(key: string, ttlMs: number, owner?: string): Promise<ClaimResult>;
  /** Records the outcome of a claimed run for `ttlMs`, and wakes waiters. */
  complete(key: string, outcome: string, ttlMs: number): Promise<void>;
  /**
   * The run `owner` claimed ended with an outcome that is not known (the
   * broker failed under it): unless the key has moved on (completed, or
   * claimed by another owner), it stays claimed with no outcome for `ttlMs`,
   * waiters are woken with none, and the next `claim` runs it again.
   */
  release(key: string, owner: string, ttlMs: number): Promise<void>;
  /** The outcome once the run completes; null after `timeoutMs`, or when the run was released (claim again). */
  wait(key: string, timeoutMs: number): Promise<string | null>;
}

/**
 * What `IdempotencyStore.claim` answers: `claimed` (run it now), `pending`
 * (another attempt runs it; wait), or `done` with the stored outcome.
 */
export type ClaimResult = { readonly state: 'claimed' } | { readonly state: 'pending' } | { readonly state: 'done'; readonly outcome: string };

interface Entry {
  outcome: string | null;
  /** The attempt running it; null once released (or completed). */
  owner: string | null;
  expiresAt: number;
  waiters: Set<(outcome: string | null) => void>;
}

/** The owner of claims made without one. */
const ANONYMOUS = '';

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

  function wake(entry: Entry, outcome: string | null): void {
    for (const waiter of entry.waiters) waiter(outcome);
    entry.waiters.clear();
  }

  return {
    async claim(key, ttlMs, owner = ANONYMOUS) {
      const entry = live(key);
      if (!entry) {
        entries.set(key, { outcome: null, owner, expiresAt: now() + ttlMs, waiters: new Set() });
        return { state: 'claimed' };
      }
      if (entry.outcome !== null) return { state: 'done', outcome: entry.outcome };
      if (entry.owner === null) {
        entry.owner = owner;
        entry.expiresAt = now() + ttlMs;
        return { state: 'claimed' };
      }
      return { state: 'pending' };
    },
    async complete(key, outcome, ttlMs) {
      const entry = entries.get(key) ?? { outcome: null, owner: null, expiresAt: 0, waiters: new Set() };
      entry.outcome = outcome;
      entry.owner = null;
      entry.expiresAt = now() + ttlMs;
      entries.set(key, entry);
      wake(entry, outcome);
    },
    async release(key, owner, ttlMs) {
      const entry = live(key);
      if (!entry || entry.outcome !== null || entry.owner !== owner) return;
      entry.owner = null;
      entry.expiresAt = now() + ttlMs;
      wake(entry, null);
    },
    wait(key, timeoutMs) {
      const entry = live(key);
      if (!entry || entry.owner === null) return Promise.resolve(entry?.outcome ?? null);
      return new Promise((resolve) => {
        const waiter = (outcome: string | null) => {
          clearTimeout(timer);
          entry.waiters.delete(waiter);
          resolve(outcome);
        };
        const timer = setTimeout(() => waiter(null), timeoutMs);
        entry.waiters.add(waiter);
      });
    },
    sweep() {
      const at = now();
      for (const [key, entry] of entries) if (entry.expiresAt <= at && entry.waiters.size === 0) entries.delete(key);
    },
  };
}
