import { createHash, randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import type { IdempotencyStore } from '../brokers/idempotency.js';
import { runKeyed } from '../brokers/publishOnce.js';
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
  /** Records one scope may start on this node per `ttlMs`, and bytes of their outcomes. */
  readonly maxRecordsPerCaller: number;
  readonly maxRecordBytesPerCaller: number;
  /** Told of a caller refused for starting too many records (the gate counts and logs it). */
  readonly onRefused?: (error: HeraldError) => void;
  readonly now?: () => number;
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
 *       │                    └─broker failed─▶ release ──▶ BROKER_UNAVAILABLE (outcome unknown)
 *       ├────done──────────────────────────────────────────▶ stored outcome (replayed), if the fingerprint matches
 *       └────pending───▶ wait(waitTimeoutMs) ──▶ outcome (replayed); released: claim again; else TIMEOUT
 *
 * An outcome that is not known is never stored. When the broker fails under
 * a run (its claim, a publish, or recording the outcome timed out or was
 * refused), the caller gets BROKER_UNAVAILABLE and the key is released:
 * it stays claimed with no outcome, and the next attempt with the key runs
 * the mutation again. That rerun's publishes carry the same tags as the
 * first run's (`runKeyed`, `PublishOnce`), so a message the first run
 * stored, even one whose publish timed out and ran later, is found, not
 * stored again: the rerun learns the real outcome of each publish.
 *
 * `first` is never cancelled by the caller going away: its outcome is
 * recorded for the repeat the client sends after reconnecting.
 */
export class IdempotentCalls {
  private readonly records: CallerRecords;

  constructor(private readonly settings: IdempotencySettings) {
    this.records = new CallerRecords(settings.ttlMs, settings.now ?? Date.now);
  }

  /** The scope of a caller's keys: `idempotency.scope(ctx)` when the app gives one, else its user, else its address. */
  scopeOf(ctx: unknown, userKey: string | null, address: string): string {
    const scoped = this.settings.scope?.(ctx);
    if (typeof scoped === 'string' && scoped !== '') return `s:${scoped}`;
    return userKey !== null ? `u:${userKey}` : `a:${address}`;
  }

  /**
   * Runs `first` once for the key, or replays its outcome. `first` resolves
   * with the outcome to store, or rejects when its outcome is not known
   * (a broker failure); rejects with BROKER_UNAVAILABLE when the store fails.
   */
  async run(
    mutation: KeyedMutation,
    first: () => Promise<StoredOutcome>,
  ): Promise<{ readonly outcome: StoredOutcome; readonly replayed: boolean }> {
    const { store, ttlMs, waitTimeoutMs, maxRecordsPerCaller, maxRecordBytesPerCaller } = this.settings;
    if (!this.records.mayStart(mutation.scope, maxRecordsPerCaller, maxRecordBytesPerCaller)) {
      const error = new HeraldError(
        'LIMIT_EXCEEDED',
        `This caller started ${maxRecordsPerCaller} idempotent mutations (or ${maxRecordBytesPerCaller} bytes of their outcomes) within idempotency.ttlMs; send further ones without a key, or later`,
      );
      this.settings.onRefused?.(error);
      throw error;
    }
    const storeKey = `${mutation.scope}|${mutation.path}|${mutation.key}`;
    const fingerprint = fingerprintOf(mutation);
    // Names this attempt's claim, so its release cannot free another attempt's.
    const owner = randomUUID();
    // A second claim only after a wait that ended without an outcome (the run was released, or took too long).
    for (let attempt = 0; ; attempt++) {
      const claim = await this.stored('claim', storeKey, owner, () => store.claim(storeKey, ttlMs, owner));
      if (claim.state === 'done') return { outcome: replay(claim.outcome, fingerprint), replayed: true };
      if (claim.state === 'claimed') {
        this.records.started(mutation.scope);
        const outcome = await this.runClaimed(storeKey, owner, fingerprint, first);
        this.records.stored(mutation.scope, outcome.length);
        return { outcome, replayed: false };
      }
      if (attempt > 0) break;
      const stored = await this.stored('wait', storeKey, null, () => store.wait(storeKey, waitTimeoutMs));
      if (stored !== null) return { outcome: replay(stored, fingerprint), replayed: true };
    }
    throw new TRPCError({ code: 'TIMEOUT', message: 'The first attempt of this mutation is still running; retry later with the same key' });
  }

  private async runClaimed(storeKey: string, owner: string, fingerprint: string, first: () => Promise<StoredOutcome>): Promise<StoredOutcome> {
    const { store, ttlMs } = this.settings;
    let outcome: StoredOutcome;
    try {
      outcome = await runKeyed(storeKey, ttlMs, first);
    } catch (error) {
      this.release(storeKey, owner);
      throw unknownOutcome('the broker failed while it ran', error);
    }
    await this.stored('record', storeKey, owner, () => store.complete(storeKey, `${fingerprint}${outcome}`, ttlMs));
    return outcome;
  }

  /**
   * A store call; its failure is BROKER_UNAVAILABLE, and releases `owner`'s
   * claim (a claim or record that timed out may still run in the broker: the
   * release, sent after it on the same connection, runs after it).
   */
  private async stored<T>(step: string, storeKey: string, owner: string | null, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (owner !== null) this.release(storeKey, owner);
      throw unknownOutcome(`the idempotency ${step} failed`, error);
    }
  }

  /** Best effort: a release that cannot reach the broker leaves the claim to lapse after `ttlMs`. */
  private release(storeKey: string, owner: string): void {
    this.settings.store.release(storeKey, owner, this.settings.ttlMs).catch(() => undefined);
  }
}

/**
 * The idempotency records each caller (scope) started on this node in the
 * current window of `ttlMs`, and the bytes of their outcomes: what bounds
 * the store one caller can fill, anonymous callers included. A window
 * starts with a caller's first record and ends `ttlMs` later, when the
 * records it counted have lapsed.
 */
class CallerRecords {
  private readonly byScope = new Map<string, { since: number; count: number; bytes: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  mayStart(scope: string, maxCount: number, maxBytes: number): boolean {
    const window = this.current(scope);
    return window === undefined || (window.count < maxCount && window.bytes < maxBytes);
  }

  started(scope: string): void {
    const window = this.current(scope);
    if (window) window.count++;
    else this.byScope.set(scope, { since: this.now(), count: 1, bytes: 0 });
    if (this.byScope.size > PRUNE_AT) this.prune();
  }

  stored(scope: string, bytes: number): void {
    const window = this.current(scope);
    if (window) window.bytes += bytes;
  }

  private current(scope: string): { since: number; count: number; bytes: number } | undefined {
    const window = this.byScope.get(scope);
    if (window && this.now() - window.since >= this.ttlMs) {
      this.byScope.delete(scope);
      return undefined;
    }
    return window;
  }

  private prune(): void {
    const now = this.now();
    for (const [scope, window] of this.byScope) if (now - window.since >= this.ttlMs) this.byScope.delete(scope);
  }
}

/** Callers counted at once past which lapsed windows are swept. */
const PRUNE_AT = 10_000;

/** BROKER_UNAVAILABLE for a keyed mutation whose outcome is not known, saying how to learn it. */
function unknownOutcome(what: string, cause: unknown): HeraldError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new HeraldError(
    'BROKER_UNAVAILABLE',
    `The mutation's outcome is not known: ${what} (${reason}). Retry with the same idempotency key: it runs once, and learns what the first attempt did`,
    { cause },
  );
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
