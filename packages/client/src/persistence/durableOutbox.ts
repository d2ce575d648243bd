import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { heraldCodeOf, transformer } from '@herald/shared';
import type { ConnectionStateSource } from '../connection/connectionState.js';
import type { Outbox, OutboxEntry, OutboxError, OutboxOutcome, PersistedCallObserver } from '../persistence.js';
import { clientError } from '../errors.js';
import { Limiter, OrderedQueue } from './orderedQueue.js';
import { isUnreadableValue, quarantine, UnreadableValueError, type HeraldStorage } from './storage.js';
import { ENTRY_PREFIX, ENTRY_VERSION, EPOCH_KEY, isBefore, orderOf, readEntry, type EntryOrder, type EntryRead, type StoredEntry } from './storedEntry.js';

export { ENTRY_PREFIX, EPOCH_KEY } from './storedEntry.js';
/** Each client holds the lock `OWNER_LOCK_PREFIX + its owner id` for its lifetime, and those of the gone owners whose entries it took over. */
export const OWNER_LOCK_PREFIX = 'herald-outbox-owner/';
/** Storage calls in flight at once: enough to overlap fsyncs, few enough not to run out of file descriptors with 100,000 entries. */
export const STORAGE_CONCURRENCY = 64;

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

/** One entry this client sends, with what sending it holds. */
interface LiveEntry {
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

/** An owner id whose lock this client holds: its own, or a gone client's whose entries it took over. */
interface OwnerHold {
  readonly release: (() => Promise<void>) | null;
  /** Its entries this client still has. */
  count: number;
}

/** What to do with an error a send got. */
type ErrorKind = 'outcome' | 'resend' | 'later' | 'closing';

/**
 * The durable outbox of one client (docs/outbox.md). Every mutation is
 * stored before it is sent and removed once its outcome is reported; entries
 * are sent with their stored idempotency key, so a Herald server runs each
 * once whatever page or process sends it.
 *
 * Order: each client takes the store's next epoch at start (`outbox-epoch`)
 * and numbers its entries 1, 2, 3...; entries go out by (epoch, number),
 * never by the wall clock. Pending entries wait in an `OrderedQueue`, so
 * recording, settling and picking the next entry cost O(log n), not a sort.
 *
 * Ownership: each client holds the lock of its own owner id for its lifetime
 * and sends only entries it owns. For an owner whose lock is free (the page
 * closed, the process died) it takes that lock and keeps it while it sends
 * those entries (they are not rewritten): two clients never send one entry.
 *
 *     mutate ──▶ store(pending) ──▶ send ──▶ answer ──▶ report ──▶ delete
 *                                     ▲  └─▶ error ───▶ report ──▶ store(failed)
 *     start / claim ─────────────────┘  (an entry past maxAgeMs: report expired, not sent)
 *     unreadable entry ──▶ move aside (quarantine) ──▶ onError + report 'quarantined'
 */
export class DurableOutbox implements Outbox {
  readonly ready: Promise<void>;
  readonly #storage: HeraldStorage;
  readonly #host: OutboxHost;
  readonly #settings: DurableOutboxSettings;
  readonly #clock: OutboxClock;
  readonly #owner: string;
  /** The owner lock is held and the epoch taken: mutations may be recorded. */
  readonly #started: Promise<void>;
  readonly #live = new Map<string, LiveEntry>();
  /** Pending entries in send order; entries settled meanwhile are skipped when they reach the top. */
  readonly #queue = new OrderedQueue<LiveEntry>((a, b) => isBefore(a.order, b.order));
  readonly #limiter = new Limiter(STORAGE_CONCURRENCY);
  readonly #writing = new Set<Promise<void>>();
  readonly #owners = new Map<string, OwnerHold>();
  /** Entries of live owners seen at earlier claims (an entry's owner never changes): not read again. */
  readonly #foreign = new Map<string, string>();
  /** Storage keys already moved aside or reported unreadable. */
  readonly #quarantined = new Set<string>();
  readonly #listeners = new Set<() => void>();
  readonly #settledListeners = new Set<(outcome: OutboxOutcome) => void>();
  /** `entries`, made again on first read after a change. */
  #entries: readonly OutboxEntry[] | null = [];
  #claimTimer: ReturnType<typeof setInterval> | null = null;
  /** The claim under way, which `close` waits for before it gives back the locks. */
  #claiming: Promise<void> | null = null;
  /** The first claim is done: the stored backlog is in the queue, so sending in order may begin. */
  #loaded = false;
  #pumping = false;
  #pumpAgain = false;
  #closed = false;
  #epoch = 0;
  #seq = 0;
  /** Calls made before the start, waiting for it. */
  readonly #early = new Set<{ readonly observer: PersistedCallObserver }>();

  constructor(storage: HeraldStorage, host: OutboxHost, settings: DurableOutboxSettings) {
    this.#storage = storage;
    this.#host = host;
    this.#settings = settings;
    this.#clock = settings.clock ?? systemClock;
    this.#owner = host.newKey();
    this.#started = this.#begin();
    this.ready = this.#start();
    // Reported through onError and each call; an app that never awaits `ready` gets no unhandled rejection.
    this.ready.catch(() => undefined);
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

  /**
   * Records the mutation, then sends it; `observer` gets its outcome. The
   * returned function stops `observer` from waiting; the entry goes on.
   * Recording waits for the owner lock and the epoch only, not for the stored
   * backlog to load: the entry takes its place after the backlog.
   */
  mutate(path: string, input: unknown, observer: PersistedCallObserver): () => void {
    const createdAt = this.#clock.wallNow();
    const deadline = this.#clock.monotonicNow() + this.#settings.maxAgeMs;
    let mine: LiveEntry | null = null;
    // One token per call: an app may pass one observer to several calls.
    const waiting = { observer };
    this.#early.add(waiting);
    void this.#started
      .then(async () => {
        if (!this.#early.delete(waiting)) return; // stopped waiting, or closed meanwhile
        const stored: StoredEntry = {
          v: ENTRY_VERSION,
          key: this.#host.newKey(),
          path,
          input: transformer.serialize(input),
          createdAt,
          epoch: this.#epoch,
          seq: ++this.#seq,
          owner: this.#owner,
          state: 'pending',
          error: null,
        };
        const live = this.#adopt(stored, input, deadline, false);
        mine = live;
        live.callers.add(observer);
        try {
          await this.#write(live, () => this.#storage.set(ENTRY_PREFIX + stored.key, JSON.stringify(stored)));
          live.durable = true;
        } catch (error) {
          this.#drop(live);
          this.#publish();
          this.#pump();
          observer.error(TRPCClientError.from(new Error('The outbox could not record this mutation; it was not sent', { cause: error })));
          return;
        }
        this.#publish();
        this.#pump();
      })
      .catch((error: unknown) => {
        // The outbox could not start (its storage failed, or cannot lock): the call fails, saying why.
        if (!this.#early.delete(waiting)) {
          this.#settings.onError(asError(error));
          return;
        }
        observer.error(TRPCClientError.from(new Error(`The outbox could not start, so the mutation was not sent: ${asError(error).message}`, { cause: error })));
      });
    return () => {
      this.#early.delete(waiting);
      (mine as LiveEntry | null)?.callers.delete(observer);
    };
  }

  async retry(key: string): Promise<string> {
    const old = this.#live.get(key);
    if (!old || old.entry.state !== 'failed') throw new Error(`No failed outbox entry ${key} to retry`);
    const stored: StoredEntry = {
      ...old.stored,
      key: this.#host.newKey(),
      createdAt: this.#clock.wallNow(),
      epoch: this.#epoch,
      seq: ++this.#seq,
      owner: this.#owner,
      state: 'pending',
      error: null,
    };
    const live = this.#adopt(stored, old.entry.input, this.#clock.monotonicNow() + this.#settings.maxAgeMs, false);
    const recorded = this.#write(live, () => this.#storage.set(ENTRY_PREFIX + stored.key, JSON.stringify(stored)));
    // The old record goes once the new one is written; queued before the drop, so its owner's lock is kept until then.
    const removed = this.#write(old, async () => {
      await recorded;
      await this.#storage.delete(ENTRY_PREFIX + key);
    });
    removed.catch(() => undefined);
    this.#drop(old);
    this.#publish();
    try {
      await recorded;
    } catch (error) {
      this.#drop(live);
      this.#publish();
      throw error;
    }
    live.durable = true;
    this.#pump();
    await removed;
    return stored.key;
  }

  async discard(key: string): Promise<void> {
    const live = this.#live.get(key);
    if (!live) return;
    const removed = this.#write(live, () => this.#storage.delete(ENTRY_PREFIX + key));
    this.#drop(live);
    this.#publish();
    this.#pump();
    const error = TRPCClientError.from(new Error('The outbox entry was discarded'));
    for (const caller of live.callers) caller.error(error);
    await removed;
  }

  /** Stops sending; entries still pending stay stored for the next client. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#claimTimer) clearInterval(this.#claimTimer);
    const closed = clientError('CLIENT_CLOSED', 'The client was closed; the mutation stays in the outbox and is sent by the next client on this storage');
    for (const { observer } of this.#early) observer.error(closed);
    this.#early.clear();
    for (const live of this.#live.values()) {
      this.#stop(live);
      for (const caller of live.callers) caller.error(closed);
      live.callers.clear();
    }
    this.#queue.clear();
    await this.ready.catch(() => undefined);
    await this.#claiming;
    await Promise.all(this.#writing);
    const holds = [...this.#owners.values()];
    this.#owners.clear();
    for (const hold of holds) await hold.release?.();
  }

  /** Takes this client's owner lock, then the store's next epoch. */
  async #begin(): Promise<void> {
    try {
      this.#owners.set(this.#owner, { release: await this.#storage.tryLock(OWNER_LOCK_PREFIX + this.#owner), count: 0 });
      this.#epoch = await this.#nextEpoch();
    } catch (error) {
      this.#settings.onError(asError(error));
      throw error;
    }
  }

  async #start(): Promise<void> {
    await this.#started;
    await this.#claim();
    this.#loaded = true;
    if (this.#closed) return;
    this.#pump();
    this.#claimTimer = setInterval(() => void this.#claim(), this.#settings.claimIntervalMs);
    unref(this.#claimTimer);
  }

  /**
   * One read and one write. Two clients that start at the same instant may
   * take the same epoch; their entries then interleave by number (each still
   * sends its own in order).
   */
  async #nextEpoch(): Promise<number> {
    let last = 0;
    try {
      const text = await this.#storage.get(EPOCH_KEY);
      if (text !== undefined) {
        last = Number(text);
        if (!Number.isSafeInteger(last) || last < 0) throw new UnreadableValueError(EPOCH_KEY, `${JSON.stringify(text)} is not an epoch`);
      }
    } catch (error) {
      if (!isUnreadableValue(error)) throw error;
      const where = await quarantine(this.#storage, EPOCH_KEY).catch((cause: unknown) => `nowhere (${asError(cause).message})`);
      // The wall clock in ms is above any count of restarts: entries written from now on still sort after the backlog.
      last = this.#clock.wallNow();
      this.#settings.onError(new Error(`The outbox's epoch (${EPOCH_KEY}) cannot be read (${asError(error).message}); it was moved to ${where} and starts again from the wall clock`, { cause: error }));
    }
    await this.#storage.set(EPOCH_KEY, String(last + 1));
    return last + 1;
  }

  /**
   * Takes over the entries of owners that are gone, moves aside the entries
   * that cannot be read, and sends the pending ones in order. An entry the
   * storage fails to read is reported and tried again at the next claim; it
   * never stops the others.
   */
  #claim(): Promise<void> {
    if (this.#claiming || this.#closed) return this.#claiming ?? Promise.resolve();
    const run = this.#claimOnce().finally(() => {
      this.#claiming = null;
    });
    this.#claiming = run;
    return run;
  }

  async #claimOnce(): Promise<void> {
    try {
      const storageKeys = await this.#storage.keys(ENTRY_PREFIX);
      const listed = new Set(storageKeys);
      for (const storageKey of this.#foreign.keys()) if (!listed.has(storageKey)) this.#foreign.delete(storageKey);

      const byOwner = new Map<string, { storageKey: string; read: EntryRead | null }[]>();
      const group = (owner: string, storageKey: string, read: EntryRead | null) => {
        // This client's own entries, and those of owners it took over, were adopted when written or taken.
        if (this.#owners.has(owner)) return;
        let items = byOwner.get(owner);
        if (!items) byOwner.set(owner, (items = []));
        items.push({ storageKey, read });
      };
      const toRead: string[] = [];
      for (const storageKey of storageKeys) {
        if (this.#live.has(storageKey.slice(ENTRY_PREFIX.length)) || this.#quarantined.has(storageKey)) continue;
        const owner = this.#foreign.get(storageKey);
        if (owner === undefined) toRead.push(storageKey);
        else group(owner, storageKey, null);
      }
      const reads = await Promise.all(toRead.map((storageKey) => this.#limiter.run(() => readEntry(this.#storage, storageKey))));
      for (const [index, read] of reads.entries()) {
        const storageKey = toRead[index]!;
        if (read.type === 'entry') group(read.stored.owner, storageKey, read);
        else if (read.type === 'unreadable' && read.owner !== null) group(read.owner, storageKey, read);
        else if (read.type === 'unreadable') await this.#quarantine(storageKey, read);
        else if (read.type === 'failed') this.#settings.onError(new Error(`The outbox entry ${storageKey} could not be read: ${read.error.message}; tried again in ${this.#settings.claimIntervalMs} ms`, { cause: read.error }));
      }

      const taken: { owner: string; hold: OwnerHold; items: { storageKey: string; read: EntryRead | null }[] }[] = [];
      for (const [owner, items] of byOwner) {
        if (this.#closed) return;
        const release = await this.#storage.tryLock(OWNER_LOCK_PREFIX + owner);
        if (!release) {
          for (const { storageKey } of items) this.#foreign.set(storageKey, owner); // that client is alive and sends them itself
          continue;
        }
        const hold: OwnerHold = { release, count: 0 };
        this.#owners.set(owner, hold);
        taken.push({ owner, hold, items });
      }
      if (taken.length === 0) return;
      // A client that held these locks until a moment ago may have settled entries read before: only those still listed now are taken.
      const stillListed = new Set(await this.#storage.keys(ENTRY_PREFIX));
      for (const { owner, hold, items } of taken) {
        for (const { storageKey, read: earlier } of items) {
          this.#foreign.delete(storageKey);
          if (!stillListed.has(storageKey)) continue;
          const read = earlier ?? (await this.#limiter.run(() => readEntry(this.#storage, storageKey)));
          if (read.type === 'unreadable') await this.#quarantine(storageKey, read);
          else if (read.type === 'failed') this.#settings.onError(read.error);
          else if (read.type === 'entry' && read.stored.owner === owner && !this.#live.has(read.stored.key)) this.#adoptStored(storageKey, read.stored);
        }
        this.#releaseIfDone(owner, hold);
      }
      if (this.#closed) return;
      this.#publish();
      this.#pump();
    } catch (error) {
      this.#settings.onError(asError(error));
    }
  }

  /**
   * Adopts an entry read from storage. Its age there is the wall-clock time
   * since it was written (never below 0); from here on it ages on the
   * monotonic clock (docs/outbox.md, "How long an entry may wait").
   */
  #adoptStored(storageKey: string, stored: StoredEntry): void {
    let input: unknown;
    try {
      input = transformer.deserialize(stored.input as never);
    } catch (error) {
      void this.#quarantine(storageKey, { reason: `its input cannot be revived: ${asError(error).message}`, partial: stored });
      return;
    }
    const age = Math.max(0, this.#clock.wallNow() - stored.createdAt);
    this.#adopt(stored, input, this.#clock.monotonicNow() + this.#settings.maxAgeMs - age, true);
  }

  #adopt(stored: StoredEntry, input: unknown, deadline: number, durable: boolean): LiveEntry {
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
    const hold = this.#owners.get(stored.owner);
    if (hold) hold.count++;
    return live;
  }

  /** Moves an unreadable entry aside, once, and says so through onError and onSettled. */
  async #quarantine(storageKey: string, read: { readonly reason: string; readonly partial: Partial<StoredEntry> | null }): Promise<void> {
    if (this.#quarantined.has(storageKey)) return;
    this.#quarantined.add(storageKey);
    let where: string;
    try {
      where = await this.#limiter.run(() => quarantine(this.#storage, storageKey));
    } catch (error) {
      where = `nowhere: moving it failed (${asError(error).message}), so it stays, skipped by this client`;
    }
    const message = `The outbox entry ${storageKey} cannot be read (${read.reason}); it is not sent, and was moved to ${where}`;
    this.#settings.onError(new Error(message));
    const error: OutboxError = { message, code: null, heraldCode: null };
    const partial = read.partial;
    const entry: OutboxEntry = {
      key: storageKey.slice(ENTRY_PREFIX.length),
      path: typeof partial?.path === 'string' ? partial.path : '',
      input: undefined,
      createdAt: typeof partial?.createdAt === 'number' ? partial.createdAt : 0,
      state: 'failed',
      error,
    };
    this.#report({ type: 'quarantined', entry, error });
  }

  /**
   * Sends what may go now: in order (the default), the first pending entry
   * once no other is being sent, so the server runs them in the order they
   * were written over any transport (HTTP sends each mutation as its own
   * request); otherwise every pending entry whose record is written.
   */
  #pump(): void {
    // A send answered at once settles inside this call and pumps again: looped here rather than recursed, 100,000 deep.
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  #pumpOnce(): void {
    if (this.#closed) return;
    // In order, nothing goes before the stored backlog is loaded: some of it comes first.
    if (this.#settings.inOrder && !this.#loaded) return;
    for (let head = this.#queue.peek(); head; head = this.#queue.peek()) {
      if (this.#live.get(head.entry.key) !== head || head.entry.state !== 'pending') {
        this.#queue.pop(); // settled meanwhile
        continue;
      }
      // An entry goes out only once its record is in storage (a crash after a send must find it); its write's end pumps again.
      if (!head.durable) return;
      if (this.#settings.inOrder) {
        if (!head.active) this.#send(head);
        return;
      }
      this.#queue.pop();
      if (!head.active) this.#send(head);
    }
  }

  #send(live: LiveEntry): void {
    if (this.#closed || !live.durable || this.#live.get(live.entry.key) !== live) return;
    live.active = true;
    const left = live.deadline - this.#clock.monotonicNow();
    if (left <= 0) {
      this.#expire(live);
      return;
    }
    if (!live.expiryTimer) {
      live.expiryTimer = setTimeout(() => this.#expire(live), left);
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
    // Removed after the report (the write starts once this returns): a crash in between reports it again (same key, same result) rather than never.
    void this.#write(live, () => this.#storage.delete(ENTRY_PREFIX + live.entry.key)).catch((error: unknown) => this.#settings.onError(asError(error)));
    this.#drop(live);
    this.#publish();
    this.#report({ type: 'success', entry: live.entry, result });
    for (const caller of live.callers) {
      caller.next({ type: 'data', data: result });
      caller.complete();
    }
    this.#pump();
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
    void this.#write(live, () => this.#storage.set(ENTRY_PREFIX + live.entry.key, stored)).catch((cause: unknown) => this.#settings.onError(asError(cause)));
  }

  /** Forgets `live` here (not in storage) and stops what sends it. */
  #drop(live: LiveEntry): void {
    this.#stop(live);
    this.#live.delete(live.entry.key);
    const hold = this.#owners.get(live.stored.owner);
    if (!hold) return;
    hold.count--;
    this.#releaseIfDone(live.stored.owner, hold);
  }

  /**
   * Gives back the lock of a gone owner once none of its entries is left
   * here, after the writes under way (an entry's removal must land before
   * another client may read it).
   */
  #releaseIfDone(owner: string, hold: OwnerHold): void {
    if (owner === this.#owner || hold.count > 0) return;
    void Promise.resolve()
      .then(() => Promise.all(this.#writing))
      .then(async () => {
        if (hold.count > 0 || this.#owners.get(owner) !== hold) return;
        this.#owners.delete(owner);
        await hold.release?.();
      })
      .catch((error: unknown) => this.#settings.onError(asError(error)));
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

  /**
   * Writes for one entry, after its earlier writes (so its record lands
   * before its removal), and at most `STORAGE_CONCURRENCY` storage calls at
   * once overall. Entries do not wait for each other's writes.
   */
  #write(live: LiveEntry, run: () => Promise<void>): Promise<void> {
    const done = live.writes.then(() => this.#limiter.run(run));
    const settled = done.catch(() => undefined);
    live.writes = settled;
    this.#writing.add(settled);
    void settled.then(() => this.#writing.delete(settled));
    return done;
  }

  #publish(): void {
    this.#entries = null;
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

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Node timers keep the process alive; the outbox's own timers should not. */
function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}
