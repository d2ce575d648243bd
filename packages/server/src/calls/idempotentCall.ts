import { createHash } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import type { IdempotencyStore } from '../brokers/idempotency.js';
import { HeraldError } from '../errors.js';
import type { StoredOutcome } from './outcome.js';

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

/** One keyed mutation: whose key it is, which key, and what it asks for. */
export interface KeyedMutation {
  /** Whose key it is (see `IdempotentCalls.scopeOf`). */
  readonly scope: string;
  readonly path: string;
  readonly key: string;
  /** The input as it came on the wire (JSON text of the transformer's form): the same on both doors. */
  readonly inputText: string;
}

/**
 * Runs a mutation once per idempotency key, whichever door, node and socket
 * its repeats arrive on. The key is stored as `<scope>|<path>|<key>`: the
 * scope is the caller's (its user, or for an anonymous caller its address,
 * unless `idempotency.scope` says otherwise), so no caller can receive
 * another's result. Each outcome is stored with a fingerprint of its path
 * and input: the same key with another input is refused with
 * IDEMPOTENCY_KEY_REUSED, never answered with the first input's outcome.
 *
 *     claim ──claimed──▶ run first() ──▶ complete(fingerprint, outcome) ──▶ outcome
 *       ├────done──────────────────────────────────────────▶ stored outcome (replayed), if the fingerprint matches
 *       └────pending───▶ wait(waitTimeoutMs) ──▶ outcome (replayed), or TIMEOUT
 *
 * `first` is never cancelled by the caller going away: its outcome is
 * recorded for the repeat the client sends after reconnecting.
 */
export class IdempotentCalls {
  constructor(private readonly settings: IdempotencySettings) {}

  /** The scope of a caller's keys: `idempotency.scope(ctx)` when the app gives one, else its user, else its address. */
  scopeOf(ctx: unknown, userKey: string | null, address: string): string {
    const scoped = this.settings.scope?.(ctx);
    if (typeof scoped === 'string' && scoped !== '') return `s:${scoped}`;
    return userKey !== null ? `u:${userKey}` : `a:${address}`;
  }

  async run(
    mutation: KeyedMutation,
    first: () => Promise<StoredOutcome>,
  ): Promise<{ readonly outcome: StoredOutcome; readonly replayed: boolean }> {
    const { store, ttlMs, waitTimeoutMs } = this.settings;
    const storeKey = `${mutation.scope}|${mutation.path}|${mutation.key}`;
    const fingerprint = fingerprintOf(mutation);
    const claim = await store.claim(storeKey, ttlMs);
    if (claim.state === 'done') return { outcome: replay(claim.outcome, fingerprint), replayed: true };
    if (claim.state === 'pending') {
      const stored = await store.wait(storeKey, waitTimeoutMs);
      if (stored === null) {
        throw new TRPCError({ code: 'TIMEOUT', message: 'The first attempt of this mutation is still running; retry later with the same key' });
      }
      return { outcome: replay(stored, fingerprint), replayed: true };
    }
    const outcome = await first();
    await store.complete(storeKey, `${fingerprint}${outcome}`, ttlMs);
    return { outcome, replayed: false };
  }
}

/** A SHA-256 of path and input, hex: 64 characters in front of each stored outcome. */
function fingerprintOf(mutation: KeyedMutation): string {
  return createHash('sha256').update(mutation.path).update('\n').update(mutation.inputText).digest('hex');
}

const FINGERPRINT_LENGTH = 64;

/** The stored outcome, when it was stored for the same path and input; else IDEMPOTENCY_KEY_REUSED. */
function replay(stored: string, fingerprint: string): StoredOutcome {
  if (stored.startsWith(fingerprint)) return stored.slice(FINGERPRINT_LENGTH);
  throw new HeraldError(
    'IDEMPOTENCY_KEY_REUSED',
    'This idempotency key was used for another call or input; use a new key for each distinct mutation',
  );
}
