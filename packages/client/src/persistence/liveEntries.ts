import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { heraldCodeOf } from '@herald/shared';
import { asError, clientError } from '../errors.js';
import type { OutboxEntry, OutboxError, OutboxOutcome, PersistedCallObserver } from '../persistence.js';
import type { OwnerLocks } from './ownerLocks.js';
import { OrderedQueue, type Limiter } from './orderedQueue.js';
import type { HeraldStorage } from './storage.js';
import { ENTRY_PREFIX, isBefore, orderOf, type EntryOrder, type StoredEntry } from './storedEntry.js';

/**
 * One entry this client sends, with what sending it holds: a record shared
 * by the outbox's modules (the pump sets its sending fields, `stopSending`
 * clears them).
 */
export interface LiveEntry {
  entry: OutboxEntry;
  readonly stored: StoredEntry;
  readonly order: EntryOrder;
  /** When it expires, on the monotonic clock. */
  readonly deadline: number;
  /** The app's calls waiting for its outcome (none for an entry loaded from storage). */
  readonly callers: Set<PersistedCallObserver>;
  cancel: (() => void) | null;
  expiryTimer: ReturnType<typeof setTimeout> | null;
  retryTimer: ReturnType<typeof setTimeout> | null;
  stopWaitingForOpen: (() => void) | null;
  /** Its storage writes (record, failed state, removal), one after another in the order they were made. */
  writes: Promise<void>;
  /** Being sent: handed to the client, or waiting to be sent again. */
  active: boolean;
  /** Its record is in storage: only then may it be sent. */
  durable: boolean;
}

/** Stops what sends `live`: its timers, its wait for the connection, its call. */
export function stopSending(live: LiveEntry): void {
  live.active = false;
  if (live.expiryTimer) clearTimeout(live.expiryTimer);
  if (live.retryTimer) clearTimeout(live.retryTimer);
  live.expiryTimer = null;
  live.retryTimer = null;
  live.stopWaitingForOpen?.();
  live.stopWaitingForOpen = null;
  const cancel = live.cancel;
  live.cancel = null;
  cancel?.();
}

export function outboxErrorOf(error: TRPCClientError<AnyRouter>): OutboxError {
  const code = (error.data as { code?: unknown } | undefined)?.code;
  return { message: error.message, code: typeof code === 'string' ? code : null, heraldCode: heraldCodeOf(error) };
}

/**
 * The entries one outbox holds, and their outcomes: recording (`adopt`,
 * `write`), settling (`succeed`, `fail`, `expire`), forgetting (`drop`),
 * and telling the app (`entries`, `subscribe`, `onSettled`). Pending
 * entries wait in an `OrderedQueue` in send order, so recording, settling
 * and picking the next entry cost O(log n), not a sort.
 */
export class LiveEntries {
  readonly #storage: HeraldStorage;
  readonly #locks: OwnerLocks;
  readonly #limiter: Limiter;
  readonly #maxAgeMs: number;
  readonly #onError: (error: Error) => void;
  /** Called after an entry settles or leaves: the next one may go. */
  readonly #onSettle: () => void;
  readonly #live = new Map<string, LiveEntry>();
  /** Pending entries in send order; entries settled meanwhile are skipped when they reach the top. */
  readonly #queue = new OrderedQueue<LiveEntry>((a, b) => isBefore(a.order, b.order));
  readonly #writing = new Set<Promise<void>>();
  readonly #listeners = new Set<() => void>();
  readonly #settledListeners = new Set<(outcome: OutboxOutcome) => void>();
  /** `entries`, made again on first read after a change. */
  #entries: readonly OutboxEntry[] | null = [];
  #closed = false;

  constructor(
    storage: HeraldStorage,
    locks: OwnerLocks,
    limiter: Limiter,
    settings: { readonly maxAgeMs: number; readonly onError: (error: Error) => void },
    onSettle: () => void,
  ) {
    this.#storage = storage;
    this.#locks = locks;
    this.#limiter = limiter;
    this.#maxAgeMs = settings.maxAgeMs;
    this.#onError = settings.onError;
    this.#onSettle = onSettle;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get entries(): readonly OutboxEntry[] {
    this.#entries ??= [...this.#live.values()].sort((a, b) => (isBefore(a.order, b.order) ? -1 : 1)).map((live) => live.entry);
    return this.#entries;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onSettled(listener: (outcome: OutboxOutcome) => void): () => void {
    this.#settledListeners.add(listener);
    return () => this.#settledListeners.delete(listener);
  }

  get(key: string): LiveEntry | undefined {
    return this.#live.get(key);
  }

  /** `live` is still this client's entry for its key (not settled, dropped or replaced). */
  isCurrent(live: LiveEntry): boolean {
    return this.#live.get(live.entry.key) === live;
  }

  /** The first pending entry in send order, past the ones settled meanwhile; it stays in the queue. */
  head(): LiveEntry | undefined {
    for (let head = this.#queue.peek(); head; head = this.#queue.peek()) {
      if (this.isCurrent(head) && head.entry.state === 'pending') return head;
      this.#queue.pop(); // settled meanwhile
    }
    return undefined;
  }

  /** Takes the head off the queue (it is sent, not waited for). */
  popHead(): void {
    this.#queue.pop();
  }

  adopt(stored: StoredEntry, input: unknown, deadline: number, durable: boolean): LiveEntry {
    const live: LiveEntry = {
      entry: { key: stored.key, path: stored.path, input, createdAt: stored.createdAt, state: stored.state, error: stored.error },
      stored,
      order: orderOf(stored),
      deadline,
      callers: new Set(),
      cancel: null,
      expiryTimer: null,
      retryTimer: null,
      stopWaitingForOpen: null,
      writes: Promise.resolve(),
      active: false,
      durable,
    };
    this.#live.set(stored.key, live);
    if (stored.state === 'pending') this.#queue.push(live);
    this.#locks.added(stored.owner);
    return live;
  }

  /** Forgets `live` here (not in storage) and stops what sends it. */
  drop(live: LiveEntry): void {
    stopSending(live);
    this.#live.delete(live.entry.key);
    this.#locks.removed(live.stored.owner);
  }

  /**
   * Writes for one entry, after its earlier writes (so its record lands
   * before its removal), and at most `STORAGE_CONCURRENCY` storage calls at
   * once overall. Entries do not wait for each other's writes.
   */
  write(live: LiveEntry, run: () => Promise<void>): Promise<void> {
    const done = live.writes.then(() => this.#limiter.run(run));
    const settled = done.catch(() => undefined);
    live.writes = settled;
    this.#writing.add(settled);
    void settled.then(() => this.#writing.delete(settled));
    return done;
  }

  /** Resolves once the writes under way have landed (or failed). */
  drained(): Promise<unknown> {
    return Promise.all(this.#writing);
  }

  succeed(live: LiveEntry, result: unknown): void {
    if (!this.isCurrent(live)) return;
    // Removed after the report (the write starts once this returns): a crash in between reports it again (same key, same result) rather than never.
    void this.write(live, () => this.#storage.delete(ENTRY_PREFIX + live.entry.key)).catch((error: unknown) => this.#onError(asError(error)));
    this.drop(live);
    this.publish();
    this.report({ type: 'success', entry: live.entry, result });
    for (const caller of live.callers) {
      caller.next({ type: 'data', data: result });
      caller.complete();
    }
    this.#onSettle();
  }

  expire(live: LiveEntry): void {
    if (!this.isCurrent(live) || live.entry.state !== 'pending') return;
    const message = `This outbox entry is older than maxAgeMs (${this.#maxAgeMs} ms), past which the server may have forgotten its key; it was not sent again and may or may not have run. Check, then retry or discard it`;
    const error = clientError('OUTBOX_EXPIRED', message);
    this.fail(live, 'expired', outboxErrorOf(error), error);
  }

  fail(live: LiveEntry, type: 'error' | 'expired', error: OutboxError, callerError: TRPCClientError<AnyRouter>): void {
    stopSending(live);
    live.stored.state = 'failed';
    live.stored.error = error;
    live.entry = { ...live.entry, state: 'failed', error };
    this.publish();
    this.report(type === 'error' ? { type, entry: live.entry, error } : { type, entry: live.entry });
    for (const caller of live.callers) caller.error(callerError);
    live.callers.clear();
    this.#onSettle();
    const stored = JSON.stringify(live.stored);
    void this.write(live, () => this.#storage.set(ENTRY_PREFIX + live.entry.key, stored)).catch((cause: unknown) => this.#onError(asError(cause)));
  }

  /** Stops sending every entry and fails the calls waiting with `error`; the entries stay stored. */
  close(error: TRPCClientError<AnyRouter>): void {
    this.#closed = true;
    for (const live of this.#live.values()) {
      stopSending(live);
      for (const caller of live.callers) caller.error(error);
      live.callers.clear();
    }
    this.#queue.clear();
  }

  publish(): void {
    this.#entries = null;
    for (const listener of this.#listeners) listener();
  }

  report(outcome: OutboxOutcome): void {
    for (const listener of this.#settledListeners) {
      try {
        listener(outcome);
      } catch (error) {
        this.#onError(asError(error));
      }
    }
  }
}
