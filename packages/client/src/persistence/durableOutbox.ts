import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { heraldCodeOf, transformer } from '@herald/shared';
import type { ConnectionStateSource } from '../connection/connectionState.js';
import type { Outbox, OutboxEntry, OutboxError, OutboxOutcome, PersistedCallObserver } from '../persistence.js';
import { clientError } from '../errors.js';
import type { HeraldStorage } from './storage.js';

/** Storage keys of outbox entries start with this; the rest is the idempotency key. */
export const ENTRY_PREFIX = 'outbox/';
/** Each client holds the lock `OWNER_LOCK_PREFIX + its owner id` for its lifetime. */
export const OWNER_LOCK_PREFIX = 'herald-outbox-owner/';

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
  /** Send one entry at a time, oldest first, each once the one before has its outcome. */
  readonly inOrder: boolean;
  /** Storage failures (the call itself fails or stays pending). */
  readonly onError: (error: Error) => void;
}

/** An entry as stored (JSON). */
interface StoredEntry {
  readonly v: 1;
  readonly key: string;
  readonly path: string;
  /** `transformer.serialize(input)`. */
  readonly input: unknown;
  readonly createdAt: number;
  /** Orders entries made in the same millisecond. */
  readonly seq: number;
  /** The owner id of the client that sends it. */
  owner: string;
  state: 'pending' | 'failed';
  error: OutboxError | null;
}

/** One entry this client owns, with what sending it holds. */
interface LiveEntry {
  entry: OutboxEntry;
  readonly stored: StoredEntry;
  /** The app's calls waiting for its outcome (none for an entry loaded from storage). */
  readonly callers: Set<PersistedCallObserver>;
  cancel: (() => void) | null;
  expiryTimer: ReturnType<typeof setTimeout> | null;
  retryTimer: ReturnType<typeof setTimeout> | null;
  stopWaitingForOpen: (() => void) | null;
  /** The write that recorded it, while under way (null for an entry read from storage). */
  recorded: Promise<void> | null;
  /** Being sent: handed to the client, or waiting to be sent again. */
  active: boolean;
  /** Its record is in storage: only then may it be sent. */
  durable: boolean;
}

/** What to do with an error a send got. */
type ErrorKind = 'outcome' | 'resend' | 'later' | 'closing';

/**
 * The durable outbox of one client (docs/outbox.md). Every mutation is
 * stored before it is sent and removed once its outcome is reported; entries
 * are sent with their stored idempotency key, so a Herald server runs each
 * once whatever page or process sends it.
 *
 * Ownership: each client holds the lock of its own owner id for its lifetime
 * and sends only entries it owns. Entries of an owner whose lock is free (the
 * page closed, the process died) are taken over under that lock, re-read and
 * rewritten with the new owner, then sent: two clients never send one entry.
 *
 *     mutate ──▶ store(pending) ──▶ send ──▶ answer ──▶ report ──▶ delete
 *                                     ▲  └─▶ error ───▶ report ──▶ store(failed)
 *     start / claim ─────────────────┘  (an entry past maxAgeMs: report expired, not sent)
 */
export class DurableOutbox implements Outbox {
  readonly ready: Promise<void>;
  readonly #storage: HeraldStorage;
  readonly #host: OutboxHost;
  readonly #settings: DurableOutboxSettings;
  readonly #owner: string;
  readonly #live = new Map<string, LiveEntry>();
  readonly #listeners = new Set<() => void>();
  readonly #settledListeners = new Set<(outcome: OutboxOutcome) => void>();
  /** Storage writes, one at a time in call order, so an entry's writes land in the order they were made. */
  #writes: Promise<void> = Promise.resolve();
  #entries: readonly OutboxEntry[] = [];
  #releaseOwner: (() => Promise<void>) | null = null;
  #claimTimer: ReturnType<typeof setInterval> | null = null;
  #claiming = false;
  #closed = false;
  #seq = 0;
  /** Calls made before `ready`, waiting for it. */
  readonly #early = new Set<PersistedCallObserver>();

  constructor(storage: HeraldStorage, host: OutboxHost, settings: DurableOutboxSettings) {
    this.#storage = storage;
    this.#host = host;
    this.#settings = settings;
    this.#owner = host.newKey();
    this.ready = this.#start();
    // Reported through onError and each call; an app that never awaits `ready` gets no unhandled rejection.
    this.ready.catch(() => undefined);
  }

  get entries(): readonly OutboxEntry[] {
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

  /**
   * Records the mutation, then sends it; `observer` gets its outcome. The
   * returned function stops `observer` from waiting; the entry goes on.
   */
  mutate(path: string, input: unknown, observer: PersistedCallObserver): () => void {
    const createdAt = Date.now();
    this.#early.add(observer);
    void this.ready
      .then(async () => {
        if (!this.#early.delete(observer)) return; // stopped waiting, or closed meanwhile
        const stored: StoredEntry = {
          v: 1,
          key: this.#host.newKey(),
          path,
          input: transformer.serialize(input),
          createdAt,
          seq: ++this.#seq,
          owner: this.#owner,
          state: 'pending',
          error: null,
        };
        const live = this.#adopt(stored, input);
        live.durable = false;
        live.callers.add(observer);
        try {
          live.recorded = this.#write(() => this.#storage.set(ENTRY_PREFIX + stored.key, JSON.stringify(stored)));
          await live.recorded;
          live.durable = true;
        } catch (error) {
          this.#drop(live);
          this.#publish();
          observer.error(TRPCClientError.from(new Error('The outbox could not record this mutation; it was not sent', { cause: error })));
          return;
        }
        this.#publish();
        this.#pump();
      })
      .catch((error: unknown) => {
        // The outbox could not start (its storage failed, or cannot lock): the call fails, saying why.
        if (!this.#early.delete(observer)) {
          this.#settings.onError(asError(error));
          return;
        }
        observer.error(TRPCClientError.from(new Error(`The outbox could not start, so the mutation was not sent: ${asError(error).message}`, { cause: error })));
      });
    return () => {
      this.#early.delete(observer);
      for (const live of this.#live.values()) live.callers.delete(observer);
    };
  }

  async retry(key: string): Promise<string> {
    const old = this.#live.get(key);
    if (!old || old.entry.state !== 'failed') throw new Error(`No failed outbox entry ${key} to retry`);
    const stored: StoredEntry = { ...old.stored, key: this.#host.newKey(), createdAt: Date.now(), seq: ++this.#seq, state: 'pending', error: null };
    this.#drop(old);
    const live = this.#adopt(stored, old.entry.input);
    live.durable = false;
    this.#publish();
    await this.#write(async () => {
      await this.#storage.set(ENTRY_PREFIX + stored.key, JSON.stringify(stored));
      live.durable = true;
      await this.#storage.delete(ENTRY_PREFIX + key);
    });
    this.#pump();
    return stored.key;
  }

  async discard(key: string): Promise<void> {
    const live = this.#live.get(key);
    if (!live) return;
    this.#drop(live);
    this.#publish();
    this.#pump();
    const error = TRPCClientError.from(new Error('The outbox entry was discarded'));
    for (const caller of live.callers) caller.error(error);
    await this.#write(() => this.#storage.delete(ENTRY_PREFIX + key));
  }

  /** Stops sending; entries still pending stay stored for the next client. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#claimTimer) clearInterval(this.#claimTimer);
    const closed = clientError('CLIENT_CLOSED', 'The client was closed; the mutation stays in the outbox and is sent by the next client on this storage');
    for (const observer of this.#early) observer.error(closed);
    this.#early.clear();
    for (const live of this.#live.values()) {
      this.#stop(live);
      for (const caller of live.callers) caller.error(closed);
      live.callers.clear();
    }
    await this.ready.catch(() => undefined);
    await this.#writes;
    await this.#releaseOwner?.();
    this.#releaseOwner = null;
  }

  async #start(): Promise<void> {
    try {
      this.#releaseOwner = await this.#storage.tryLock(OWNER_LOCK_PREFIX + this.#owner);
    } catch (error) {
      this.#settings.onError(asError(error));
      throw error;
    }
    await this.#claim();
    if (this.#closed) return;
    this.#claimTimer = setInterval(() => void this.#claim(), this.#settings.claimIntervalMs);
    unref(this.#claimTimer);
  }

  /** Takes over the entries of owners that are gone, and sends the pending ones, oldest first. */
  async #claim(): Promise<void> {
    if (this.#claiming || this.#closed) return;
    this.#claiming = true;
    try {
      const byOwner = new Map<string, string[]>();
      for (const storageKey of await this.#storage.keys(ENTRY_PREFIX)) {
        if (this.#live.has(storageKey.slice(ENTRY_PREFIX.length))) continue;
        const stored = parseEntry(await this.#storage.get(storageKey));
        if (!stored || stored.owner === this.#owner) continue;
        byOwner.set(stored.owner, [...(byOwner.get(stored.owner) ?? []), storageKey]);
      }
      const taken: StoredEntry[] = [];
      for (const [owner, storageKeys] of byOwner) {
        if (this.#closed) return;
        const release = await this.#storage.tryLock(OWNER_LOCK_PREFIX + owner);
        if (!release) continue; // that client is alive and sends them itself
        try {
          for (const storageKey of storageKeys) {
            // Read again under the lock: another client may have taken it since.
            const stored = parseEntry(await this.#storage.get(storageKey));
            if (!stored || stored.owner !== owner) continue;
            stored.owner = this.#owner;
            await this.#write(() => this.#storage.set(storageKey, JSON.stringify(stored)));
            taken.push(stored);
          }
        } finally {
          await release();
        }
      }
      if (this.#closed || taken.length === 0) return;
      taken.sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq);
      for (const stored of taken) this.#adopt(stored, transformer.deserialize(stored.input as never));
      this.#publish();
      this.#pump();
    } catch (error) {
      this.#settings.onError(asError(error));
    } finally {
      this.#claiming = false;
    }
  }

  #adopt(stored: StoredEntry, input: unknown): LiveEntry {
    const live: LiveEntry = {
      entry: { key: stored.key, path: stored.path, input, createdAt: stored.createdAt, state: stored.state, error: stored.error },
      stored,
      callers: new Set(),
      cancel: null,
      expiryTimer: null,
      retryTimer: null,
      stopWaitingForOpen: null,
      recorded: null,
      active: false,
      durable: true,
    };
    this.#live.set(stored.key, live);
    return live;
  }

  /**
   * Sends what may go now: in order (the default), the oldest pending entry
   * once no other is being sent, so the server runs them in the order they
   * were written over any transport (HTTP sends each mutation as its own
   * request); otherwise every pending entry at once.
   */
  #pump(): void {
    if (this.#closed) return;
    // An entry goes out only once its record is in storage: a crash after a send must find it there.
    const pending = this.#entries.filter((entry) => entry.state === 'pending').map((entry) => this.#live.get(entry.key)!);
    if (!this.#settings.inOrder) {
      for (const live of pending) if (!live.active && live.durable) this.#send(live);
      return;
    }
    if (pending.some((live) => live.active)) return;
    const next = pending[0];
    if (next?.durable) this.#send(next); // else its write's end pumps again
  }

  #send(live: LiveEntry): void {
    if (this.#closed || !live.durable || this.#live.get(live.entry.key) !== live) return;
    live.active = true;
    const age = Date.now() - live.entry.createdAt;
    if (age >= this.#settings.maxAgeMs) {
      this.#expire(live);
      return;
    }
    if (!live.expiryTimer) {
      live.expiryTimer = setTimeout(() => this.#expire(live), this.#settings.maxAgeMs - age);
      unref(live.expiryTimer);
    }
    let answered = false;
    const cancel = this.#host.mutate(
      { path: live.entry.path, input: live.entry.input, idempotencyKey: live.entry.key },
      {
        next: (result) => {
          if (result.type !== 'data' || answered) return;
          answered = true;
          this.#succeed(live, result.data);
        },
        error: (error) => {
          if (answered) return;
          answered = true;
          live.cancel = null;
          this.#onError(live, error);
        },
        complete: () => undefined,
      },
    );
    if (!answered) live.cancel = cancel;
  }

  #onError(live: LiveEntry, error: TRPCClientError<AnyRouter>): void {
    if (this.#live.get(live.entry.key) !== live) return;
    switch (errorKind(error)) {
      case 'closing':
        // The client is closing: the entry stays stored, sent by the next client.
        for (const caller of live.callers) caller.error(error);
        live.callers.clear();
        return;
      case 'resend':
        this.#send(live);
        return;
      case 'later':
        this.#sendLater(live);
        return;
      case 'outcome':
        this.#fail(live, 'error', outboxErrorOf(error), error);
    }
  }

  /** Sends again once the connection is open (after `retryDelayMs` when it is open now). */
  #sendLater(live: LiveEntry): void {
    if (this.#closed) return;
    if (this.#host.connection.current.status === 'open') {
      live.retryTimer = setTimeout(() => {
        live.retryTimer = null;
        this.#send(live);
      }, this.#settings.retryDelayMs);
      unref(live.retryTimer);
      return;
    }
    live.stopWaitingForOpen = this.#host.connection.subscribe((state) => {
      if (state.status !== 'open') return;
      live.stopWaitingForOpen?.();
      live.stopWaitingForOpen = null;
      this.#send(live);
    });
  }

  #succeed(live: LiveEntry, result: unknown): void {
    if (this.#live.get(live.entry.key) !== live) return;
    this.#drop(live);
    this.#publish();
    this.#report({ type: 'success', entry: live.entry, result });
    for (const caller of live.callers) {
      caller.next({ type: 'data', data: result });
      caller.complete();
    }
    this.#pump();
    // Removed after the report: a crash in between reports it again (same key, same result) rather than never.
    this.#remove(live);
  }

  #expire(live: LiveEntry): void {
    if (this.#live.get(live.entry.key) !== live || live.entry.state !== 'pending') return;
    const message = `This outbox entry is older than maxAgeMs (${this.#settings.maxAgeMs} ms), past which the server may have forgotten its key; it was not sent again and may or may not have run. Check, then retry or discard it`;
    const error = clientError('OUTBOX_EXPIRED', message);
    this.#fail(live, 'expired', outboxErrorOf(error), error);
  }

  #fail(live: LiveEntry, type: 'error' | 'expired', error: OutboxError, callerError: TRPCClientError<AnyRouter>): void {
    this.#stop(live);
    live.stored.state = 'failed';
    live.stored.error = error;
    live.entry = { ...live.entry, state: 'failed', error };
    this.#publish();
    this.#report(type === 'error' ? { type, entry: live.entry, error } : { type, entry: live.entry });
    for (const caller of live.callers) caller.error(callerError);
    live.callers.clear();
    this.#pump();
    const stored = JSON.stringify(live.stored);
    void this.#write(() => this.#storage.set(ENTRY_PREFIX + live.entry.key, stored)).catch((cause: unknown) => this.#settings.onError(asError(cause)));
  }

  /** Forgets `live` here (not in storage) and stops what sends it. */
  #drop(live: LiveEntry): void {
    this.#stop(live);
    this.#live.delete(live.entry.key);
  }

  #stop(live: LiveEntry): void {
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

  /** Writes in call order (so entries are recorded in the order they were made). */
  #write(run: () => Promise<void>): Promise<void> {
    const done = this.#writes.then(run);
    this.#writes = done.catch(() => undefined);
    return done;
  }

  /**
   * Removes a settled entry as soon as its own record is written, without
   * waiting behind the records of newer entries: the window in which a crash
   * makes the next start report it again stays one file removal long.
   */
  #remove(live: LiveEntry): void {
    const key = live.entry.key;
    void (live.recorded ?? Promise.resolve())
      .then(() => this.#storage.delete(ENTRY_PREFIX + key))
      .catch((error: unknown) => this.#settings.onError(asError(error)));
  }

  #publish(): void {
    this.#entries = [...this.#live.values()]
      .map((live) => live.entry)
      .sort((a, b) => a.createdAt - b.createdAt || this.#live.get(a.key)!.stored.seq - this.#live.get(b.key)!.stored.seq);
    for (const listener of this.#listeners) listener();
  }

  #report(outcome: OutboxOutcome): void {
    for (const listener of this.#settledListeners) {
      try {
        listener(outcome);
      } catch (error) {
        this.#settings.onError(asError(error));
      }
    }
  }
}

/**
 * Whether an error is the mutation's outcome. The client's own errors, the
 * server going away, the connection being refused (its errors name no
 * `path`), and a repeat that found the first attempt still running are not:
 * the entry is sent again.
 */
export function errorKind(error: TRPCClientError<AnyRouter>): ErrorKind {
  const heraldCode = heraldCodeOf(error);
  if (heraldCode === 'CLIENT_CLOSED') return 'closing';
  if (heraldCode === 'OFFLINE_TIMEOUT') return 'resend';
  if (heraldCode === 'OFFLINE_QUEUE_FULL' || heraldCode === 'SERVER_CLOSING' || heraldCode === 'CONNECTION_LOST' || heraldCode === 'TOKEN_EXPIRED') {
    return 'later';
  }
  const data = error.data as { code?: unknown; path?: unknown } | undefined;
  if (data?.code === 'TIMEOUT' || typeof data?.path !== 'string') return 'later';
  return 'outcome';
}

function outboxErrorOf(error: TRPCClientError<AnyRouter>): OutboxError {
  const code = (error.data as { code?: unknown } | undefined)?.code;
  return { message: error.message, code: typeof code === 'string' ? code : null, heraldCode: heraldCodeOf(error) };
}

function parseEntry(text: string | undefined): StoredEntry | null {
  if (text === undefined) return null;
  try {
    const value = JSON.parse(text) as Partial<StoredEntry>;
    if (value.v !== 1 || typeof value.key !== 'string' || typeof value.path !== 'string' || typeof value.owner !== 'string') return null;
    return value as StoredEntry;
  } catch {
    return null; // Not written by this outbox.
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Node timers keep the process alive; the outbox's own timers should not. */
function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}
