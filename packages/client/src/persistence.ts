import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { HeraldErrorCode } from '@herald/shared';
import type { ConnectionStateSource } from './connection/connectionState.js';

/**
 * The hook `createHeraldClient` gives its `persistence` option. The main entry
 * holds only these types; the machinery (the durable outbox, stored
 * positions, ownership locks) comes with `@herald/client/persistence` and a
 * storage (`@herald/client/file`, `@herald/client/indexeddb`), so a client
 * without persistence carries none of it.
 */
export interface HeraldPersistence {
  /**
   * Called once by `createHeraldClient` with the client's request tracker and
   * connection state; returns how the client starts its calls, and its outbox.
   */
  attach(tracker: PersistenceTracker, connection: ConnectionStateSource): PersistenceAttachment;
}

/** A call as the persistence hands it to the client's request tracker. */
export interface PersistedCall {
  readonly type: 'query' | 'mutation' | 'subscription';
  readonly path: string;
  /** The input as the app gave it. */
  readonly input: unknown;
  /** A subscription's resume position. */
  readonly lastEventId?: string | undefined;
  /** A mutation's idempotency key; the tracker makes one when absent. */
  readonly idempotencyKey?: string | undefined;
  /** The call's tRPC `context` (`{ outbox: false }`, `{ position: 'room:lobby' }`: `PersistenceContext`). */
  readonly context?: Readonly<Record<string, unknown>> | undefined;
}

/** How a call reports back: `started` and `data` events, then one `error` or `complete`. */
export interface PersistedCallObserver {
  next(result: { readonly type: 'started' } | { readonly type: 'data'; readonly id?: string; readonly data: unknown }): void;
  error(error: TRPCClientError<AnyRouter>): void;
  complete(): void;
}

/** What the client lends its persistence: its request tracker, which sends calls through every reconnect. */
export interface PersistenceTracker {
  /** Starts a call; returns the function that cancels it. */
  start(call: PersistedCall, observer: PersistedCallObserver): () => void;
}

/** What a persistence gives back: how the client starts its calls, its outbox, and its teardown. */
export interface PersistenceAttachment {
  /**
   * Starts each call of `client.trpc` and `client.link` in place of the
   * request tracker (mutations through the outbox, subscriptions from their
   * stored positions); returns the function that cancels it.
   */
  start(call: PersistedCall, observer: PersistedCallObserver): () => void;
  readonly outbox: Outbox;
  /** Stops its timers, waits for its writes and releases its locks; called by `client.close()` after the calls were stopped. */
  close(): Promise<void>;
}

/** Why an outbox entry failed: the server's error (or `OUTBOX_EXPIRED`), as plain data that survives a reload. */
export interface OutboxError {
  readonly message: string;
  /** The tRPC code (`BAD_REQUEST`, `TIMEOUT`...). */
  readonly code: string | null;
  /** The Herald code, when the error has one (`OUTBOX_EXPIRED` for an entry that got too old). */
  readonly heraldCode: HeraldErrorCode | null;
}

/**
 * One mutation in the outbox. `pending`: recorded, being sent (again after a
 * reload or a crash) until its outcome is known. `failed`: the server
 * answered with an error, or the entry expired (`error.heraldCode ===
 * 'OUTBOX_EXPIRED'`); it stays, across reloads, until `retry` or `discard`.
 */
export interface OutboxEntry {
  /** The idempotency key the entry is sent with, the same on every attempt and after every reload. */
  readonly key: string;
  /** The procedure path (`chat.send`). */
  readonly path: string;
  /** The input as the app gave it. */
  readonly input: unknown;
  /** When the mutation was made (ms since the epoch, this machine's clock). */
  readonly createdAt: number;
  readonly state: 'pending' | 'failed';
  /** Why it failed; null while pending. */
  readonly error: OutboxError | null;
}

/**
 * The outcome of one entry, reported once to `outbox.onSettled` listeners,
 * whichever page or process made the mutation. (A process that dies in the
 * instant between the report and the removal from storage reports it again on
 * its next start, with the same `entry.key`.)
 */
export type OutboxOutcome =
  | { readonly type: 'success'; readonly entry: OutboxEntry; readonly result: unknown }
  | { readonly type: 'error'; readonly entry: OutboxEntry; readonly error: OutboxError }
  | { readonly type: 'expired'; readonly entry: OutboxEntry }
  /** A stored entry that could not be read (truncated, corrupt, a newer format) was moved aside and is not sent; `entry` holds what could be read, `error.message` says why and where it went. */
  | { readonly type: 'quarantined'; readonly entry: OutboxEntry; readonly error: OutboxError };

/**
 * `client.outbox`: the mutations recorded by `persistence` that have no
 * outcome yet or failed. A client without `persistence` has none (null):
 * its mutations live in memory only.
 */
export interface Outbox {
  /** Pending and failed entries of this client (including those it took over from a closed page or a dead process), oldest first. The same array until something changes. */
  readonly entries: readonly OutboxEntry[];
  /** Resolves once stored entries were loaded and the pending ones sent again; after a start that failed, the start the next mutation makes. */
  readonly ready: Promise<void>;
  /** Calls `listener` after every change of `entries`. Returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Calls `listener` with each entry's outcome. Returns the unsubscribe function. */
  onSettled(listener: (outcome: OutboxOutcome) => void): () => void;
  /** Sends a failed entry again under a new key (the server recorded the old key's error); resolves with the new key. Rejects when the new entry cannot be stored, leaving the failed one as it was. */
  retry(key: string): Promise<string>;
  /** Forgets an entry. A pending one stops being sent, though a copy already sent may still run. */
  discard(key: string): Promise<void>;
}
