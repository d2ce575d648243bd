import { TRPCClientError } from '@trpc/client';
import { transformer } from '@herald/shared';
import { asError, clientError } from '../errors.js';
import type { Outbox, OutboxEntry, OutboxOutcome, PersistedCallObserver } from '../persistence.js';
import { LiveEntries, type LiveEntry } from './liveEntries.js';
import { Limiter } from './orderedQueue.js';
import { OutboxLoader, takeEpoch } from './outboxLoader.js';
import { OutboxPump } from './outboxPump.js';
import { STORAGE_CONCURRENCY, systemClock, type DurableOutboxSettings, type OutboxClock, type OutboxHost } from './outboxSettings.js';
import { OwnerLocks } from './ownerLocks.js';
import type { HeraldStorage } from './storage.js';
import { ENTRY_PREFIX, ENTRY_VERSION, type StoredEntry } from './storedEntry.js';

export { ENTRY_PREFIX, EPOCH_KEY } from './storedEntry.js';
export { OWNER_LOCK_PREFIX } from './ownerLocks.js';
export { STORAGE_CONCURRENCY, systemClock, type DurableOutboxSettings, type OutboxClock, type OutboxHost } from './outboxSettings.js';

/**
 * The durable outbox of one client (docs/outbox.md). Every mutation is
 * stored before it is sent and removed once its outcome is reported; entries
 * are sent with their stored idempotency key, so a Herald server runs each
 * once whatever page or process sends it.
 *
 * Order: each client takes the store's next epoch at start (`outbox-epoch`)
 * and numbers its entries 1, 2, 3...; entries go out by (epoch, number),
 * never by the wall clock.
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
 *
 * The jobs sit beside this file: `liveEntries.ts` records entries and their
 * outcomes, `outboxPump.ts` sends them, `outboxLoader.ts` loads and claims
 * stored ones (and quarantines unreadable ones), `ownerLocks.ts` holds the
 * owner locks. This class ties them together and answers the app.
 */
export class DurableOutbox implements Outbox {
  readonly #storage: HeraldStorage;
  readonly #host: OutboxHost;
  readonly #settings: DurableOutboxSettings;
  readonly #clock: OutboxClock;
  readonly #locks: OwnerLocks;
  readonly #entries: LiveEntries;
  readonly #pump: OutboxPump;
  readonly #loader: OutboxLoader;
  /** The current start's first part: the owner lock is held and the epoch taken, so mutations may be recorded. */
  #started!: Promise<void>;
  /** The current start as a whole (`ready`). */
  #ready!: Promise<void>;
  /** The current start failed: the next mutation starts again. */
  #startFailed = false;
  #epoch = 0;
  #seq = 0;
  /** Calls made before the start, waiting for it. */
  readonly #early = new Set<{ readonly observer: PersistedCallObserver }>();

  constructor(storage: HeraldStorage, host: OutboxHost, settings: DurableOutboxSettings) {
    this.#storage = storage;
    this.#host = host;
    this.#settings = settings;
    this.#clock = settings.clock ?? systemClock;
    const limiter = new Limiter(STORAGE_CONCURRENCY);
    this.#locks = new OwnerLocks(storage, host.newKey(), () => this.#entries.drained(), settings.onError);
    this.#entries = new LiveEntries(storage, this.#locks, limiter, settings, () => this.#pump.pump());
    this.#pump = new OutboxPump(this.#entries, host, settings, this.#clock);
    this.#loader = new OutboxLoader(storage, this.#entries, this.#locks, limiter, settings, this.#clock, () => this.#pump.pump());
    this.#startOver();
  }

  /** The current start's promise (`Outbox.ready`). */
  get ready(): Promise<void> {
    return this.#ready;
  }

  get entries(): readonly OutboxEntry[] {
    return this.#entries.entries;
  }

  subscribe(listener: () => void): () => void {
    return this.#entries.subscribe(listener);
  }

  onSettled(listener: (outcome: OutboxOutcome) => void): () => void {
    return this.#entries.onSettled(listener);
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
    void this.#whenStarted()
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
          owner: this.#locks.own,
          state: 'pending',
          error: null,
        };
        const live = this.#entries.adopt(stored, input, deadline, false);
        mine = live;
        live.callers.add(observer);
        try {
          await this.#entries.write(live, () => this.#storage.set(ENTRY_PREFIX + stored.key, JSON.stringify(stored)));
          live.durable = true;
        } catch (error) {
          this.#entries.drop(live);
          this.#entries.publish();
          this.#pump.pump();
          observer.error(TRPCClientError.from(new Error('The outbox could not record this mutation; it was not sent', { cause: error })));
          return;
        }
        this.#entries.publish();
        this.#pump.pump();
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
    const old = this.#entries.get(key);
    if (!old || old.entry.state !== 'failed') throw new Error(`No failed outbox entry ${key} to retry`);
    const stored: StoredEntry = {
      ...old.stored,
      key: this.#host.newKey(),
      createdAt: this.#clock.wallNow(),
      epoch: this.#epoch,
      seq: ++this.#seq,
      owner: this.#locks.own,
      state: 'pending',
      error: null,
    };
    const live = this.#entries.adopt(stored, old.entry.input, this.#clock.monotonicNow() + this.#settings.maxAgeMs, false);
    const recorded = this.#entries.write(live, () => this.#storage.set(ENTRY_PREFIX + stored.key, JSON.stringify(stored)));
    // The old record goes once the new one is written; queued before the drop, so its owner's lock is kept until then.
    const removed = this.#entries.write(old, async () => {
      await recorded;
      await this.#storage.delete(ENTRY_PREFIX + key);
    });
    removed.catch(() => undefined);
    this.#entries.drop(old);
    this.#entries.publish();
    try {
      await recorded;
    } catch (error) {
      // Not recorded, so not sent: the failed entry comes back as it was (its record, whose removal waited for this one, is still stored).
      this.#entries.drop(live);
      this.#entries.adopt(old.stored, old.entry.input, old.deadline, true);
      this.#entries.publish();
      throw error;
    }
    live.durable = true;
    this.#pump.pump();
    await removed;
    return stored.key;
  }

  async discard(key: string): Promise<void> {
    const live = this.#entries.get(key);
    if (!live) return;
    const removed = this.#entries.write(live, () => this.#storage.delete(ENTRY_PREFIX + key));
    this.#entries.drop(live);
    this.#entries.publish();
    this.#pump.pump();
    const error = TRPCClientError.from(new Error('The outbox entry was discarded'));
    for (const caller of live.callers) caller.error(error);
    await removed;
  }

  /** Stops sending; entries still pending stay stored for the next client. */
  async close(): Promise<void> {
    const closed = clientError('CLIENT_CLOSED', 'The client was closed; the mutation stays in the outbox and is sent by the next client on this storage');
    const stopped = this.#loader.stop();
    for (const { observer } of this.#early) observer.error(closed);
    this.#early.clear();
    this.#entries.close(closed);
    try {
      await this.ready.catch(() => undefined);
      await stopped;
      await this.#entries.drained();
    } finally {
      // Whatever failed above, the locks go back: the next client on this storage takes the entries over.
      await this.#locks.releaseAll();
    }
  }

  /**
   * Starts the outbox: at construction, and again when a mutation comes
   * after a start that failed, so a storage that was full or unavailable for
   * a moment fails the mutations of that moment only, not every one until
   * the page reloads. What the failed start did is kept (the owner lock, the
   * epoch, the entries it loaded).
   */
  #startOver(): void {
    this.#startFailed = false;
    const started = this.#begin();
    const ready = this.#start(started);
    this.#started = started;
    this.#ready = ready;
    // Reported through onError and each call; an app that never awaits `ready` gets no unhandled rejection.
    ready.catch(() => {
      if (this.#ready === ready) this.#startFailed = true;
    });
  }

  /** The current start's first part, after starting again if the last start failed. */
  #whenStarted(): Promise<void> {
    if (this.#startFailed && !this.#entries.closed) this.#startOver();
    return this.#started;
  }

  /** Takes this client's owner lock, then the store's next epoch (each unless an earlier start did). */
  async #begin(): Promise<void> {
    try {
      if (!this.#locks.holds(this.#locks.own)) await this.#locks.takeOwn();
      if (this.#epoch === 0) this.#epoch = await takeEpoch(this.#storage, this.#clock, this.#settings.onError);
    } catch (error) {
      this.#settings.onError(asError(error));
      throw error;
    }
  }

  async #start(started: Promise<void>): Promise<void> {
    await started;
    await this.#loader.claim();
    this.#pump.loaded();
    if (this.#entries.closed) return;
    this.#loader.startClaiming();
  }
}
