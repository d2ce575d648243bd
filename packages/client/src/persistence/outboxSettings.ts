import type { ConnectionStateSource } from '../connection/connectionState.js';
import type { PersistedCallObserver } from '../persistence.js';

/**
 * Storage calls in flight at once: `fileStorage` writes the ones that wait
 * together, one fdatasync per batch, so this bounds its batches (100,000
 * entries cost about 400 syncs); few enough that files of the old
 * one-file-per-key layout, read one each, never run out of file descriptors.
 */
export const STORAGE_CONCURRENCY = 256;

/** The outbox's clocks; tests pass their own. */
export interface OutboxClock {
  /** A monotonic clock in ms (`performance.now`): ages within one process. */
  monotonicNow(): number;
  /** The wall clock in ms since the epoch (`Date.now`): `createdAt`, and ages across a restart. */
  wallNow(): number;
}

export const systemClock: OutboxClock = {
  monotonicNow: () => performance.now(),
  wallNow: () => Date.now(),
};

/** What the outbox needs of its client (`createPersistence` builds it from the client's tracker). */
export interface OutboxHost {
  /** Sends a mutation with the key given, through every reconnect; returns its cancel function. */
  mutate(call: { readonly path: string; readonly input: unknown; readonly idempotencyKey: string }, observer: PersistedCallObserver): () => void;
  readonly connection: ConnectionStateSource;
  /** Makes idempotency keys (and owner ids). */
  newKey(): string;
}

export interface DurableOutboxSettings {
  /** An entry this old is reported expired instead of sent (see docs/outbox.md). */
  readonly maxAgeMs: number;
  /** How often to look for entries left by a client that is gone. */
  readonly claimIntervalMs: number;
  /** Wait before resending after the server said the first attempt is still running. */
  readonly retryDelayMs: number;
  /** Send one entry at a time, in order, each once the one before has its outcome. */
  readonly inOrder: boolean;
  /** Storage failures (the call itself fails or stays pending), and entries moved aside. */
  readonly onError: (error: Error) => void;
  /** @default systemClock */
  readonly clock?: OutboxClock;
}
