import { TRPCError } from '@trpc/server';
import type { IdempotencyStore } from '../brokers/idempotency.js';

/** The longest idempotency key accepted; a longer one is ignored (the call runs without one). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

/**
 * The idempotency key a request carries (`params.idempotencyKey` over
 * WebSocket, the `Idempotency-Key` header over HTTP), or null when it has
 * none that is usable: keys are non-empty strings of at most
 * `MAX_IDEMPOTENCY_KEY_LENGTH` characters.
 */
export function idempotencyKeyFrom(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_IDEMPOTENCY_KEY_LENGTH ? value : null;
}

export interface IdempotencySettings {
  readonly store: IdempotencyStore;
  readonly ttlMs: number;
  readonly waitTimeoutMs: number;
  readonly scope: ((ctx: unknown) => string | null | undefined) | undefined;
}

/** A mutation's outcome: a response without its envelope (`"result":…` or `"error":…`), serialized by the router's transformer. */
export type StoredOutcome = string;

/**
 * Runs a mutation once per idempotency key, whichever transport, node and
 * socket its repeats arrive on. The key is stored as
 * `<scope(ctx)>|<path>|<key>`, so both transports find each other's
 * outcomes and one user's key never returns another's result.
 *
 *     claim ──claimed──▶ run first() ──▶ complete(outcome) ──▶ outcome
 *       ├────done──────────────────────────────────────────▶ stored outcome (replayed)
 *       └────pending───▶ wait(waitTimeoutMs) ──▶ outcome (replayed), or TIMEOUT
 *
 * `first` is never cancelled by the caller going away: its outcome is
 * recorded for the repeat the client sends after reconnecting.
 */
export class IdempotentCalls {
  constructor(private readonly settings: IdempotencySettings) {}

  async run(
    ctx: unknown,
    path: string,
    key: string,
    first: () => Promise<StoredOutcome>,
  ): Promise<{ readonly outcome: StoredOutcome; readonly replayed: boolean }> {
    const { store, ttlMs, waitTimeoutMs, scope } = this.settings;
    const storeKey = `${scope?.(ctx) ?? ''}|${path}|${key}`;
    const claim = await store.claim(storeKey, ttlMs);
    if (claim.state === 'done') return { outcome: claim.outcome, replayed: true };
    if (claim.state === 'pending') {
      const outcome = await store.wait(storeKey, waitTimeoutMs);
      if (outcome === null) {
        throw new TRPCError({ code: 'TIMEOUT', message: 'The first attempt of this mutation is still running; retry later with the same key' });
      }
      return { outcome, replayed: true };
    }
    const outcome = await first();
    await store.complete(storeKey, outcome, ttlMs);
    return { outcome, replayed: false };
  }
}
