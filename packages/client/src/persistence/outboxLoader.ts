import { transformer } from '@herald/shared';
import { asError } from '../errors.js';
import type { OutboxEntry, OutboxError } from '../persistence.js';
import { unref } from '../timers.js';
import type { LiveEntries } from './liveEntries.js';
import type { Limiter } from './orderedQueue.js';
import type { DurableOutboxSettings, OutboxClock } from './outboxSettings.js';
import type { OwnerLocks } from './ownerLocks.js';
import { isUnreadableValue, quarantine, UnreadableValueError, type HeraldStorage } from './storage.js';
import { ENTRY_PREFIX, EPOCH_KEY, readEntry, type EntryRead, type StoredEntry } from './storedEntry.js';

/**
 * Takes the store's next epoch: one read and one write. Two clients that
 * start at the same instant may take the same epoch; their entries then
 * interleave by number (each still sends its own in order).
 */
export async function takeEpoch(storage: HeraldStorage, clock: OutboxClock, onError: (error: Error) => void): Promise<number> {
  let last = 0;
  try {
    const text = await storage.get(EPOCH_KEY);
    if (text !== undefined) {
      last = Number(text);
      if (!Number.isSafeInteger(last) || last < 0) throw new UnreadableValueError(EPOCH_KEY, `${JSON.stringify(text)} is not an epoch`);
    }
  } catch (error) {
    if (!isUnreadableValue(error)) throw error;
    const where = await quarantine(storage, EPOCH_KEY).catch((cause: unknown) => `nowhere (${asError(cause).message})`);
    // The wall clock in ms is above any count of restarts: entries written from now on still sort after the backlog.
    last = clock.wallNow();
    onError(new Error(`The outbox's epoch (${EPOCH_KEY}) cannot be read (${asError(error).message}); it was moved to ${where} and starts again from the wall clock`, { cause: error }));
  }
  await storage.set(EPOCH_KEY, String(last + 1));
  return last + 1;
}

type ClaimItem = { storageKey: string; read: EntryRead | null };

/**
 * Loads the outbox's stored entries: at start, then every
 * `claimIntervalMs`, it takes over the entries of owners that are gone and
 * moves aside (quarantines) the entries that cannot be read. An entry the
 * storage fails to read is reported and tried again at the next claim; it
 * never stops the others.
 */
export class OutboxLoader {
  readonly #storage: HeraldStorage;
  readonly #entries: LiveEntries;
  readonly #locks: OwnerLocks;
  readonly #limiter: Limiter;
  readonly #settings: DurableOutboxSettings;
  readonly #clock: OutboxClock;
  /** Called once entries were taken over: they may be sent. */
  readonly #onLoaded: () => void;
  /** Entries of live owners seen at earlier claims (an entry's owner never changes): not read again. */
  readonly #foreign = new Map<string, string>();
  /** Storage keys already moved aside or reported unreadable. */
  readonly #quarantined = new Set<string>();
  #timer: ReturnType<typeof setInterval> | null = null;
  /** The claim under way, which `stop` waits for before the locks are given back. */
  #claiming: Promise<void> | null = null;

  constructor(
    storage: HeraldStorage,
    entries: LiveEntries,
    locks: OwnerLocks,
    limiter: Limiter,
    settings: DurableOutboxSettings,
    clock: OutboxClock,
    onLoaded: () => void,
  ) {
    this.#storage = storage;
    this.#entries = entries;
    this.#locks = locks;
    this.#limiter = limiter;
    this.#settings = settings;
    this.#clock = clock;
    this.#onLoaded = onLoaded;
  }

  /** Claims every `claimIntervalMs` from now on. */
  startClaiming(): void {
    this.#timer = setInterval(() => void this.claim(), this.#settings.claimIntervalMs);
    unref(this.#timer);
  }

  /** Stops claiming; resolves once the claim under way is done. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#claiming;
  }

  claim(): Promise<void> {
    if (this.#claiming || this.#entries.closed) return this.#claiming ?? Promise.resolve();
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

      const byOwner = new Map<string, ClaimItem[]>();
      const group = (owner: string, storageKey: string, read: EntryRead | null) => {
        // This client's own entries, and those of owners it took over, were adopted when written or taken.
        if (this.#locks.holds(owner)) return;
        let items = byOwner.get(owner);
        if (!items) byOwner.set(owner, (items = []));
        items.push({ storageKey, read });
      };
      const toRead: string[] = [];
      for (const storageKey of storageKeys) {
        if (this.#entries.get(storageKey.slice(ENTRY_PREFIX.length)) || this.#quarantined.has(storageKey)) continue;
        const owner = this.#foreign.get(storageKey);
        if (owner === undefined) toRead.push(storageKey);
        else group(owner, storageKey, null);
      }
      const reads = await Promise.all(toRead.map((storageKey) => this.#limiter.run(() => readEntry(this.#storage, storageKey))));
      for (const [index, read] of reads.entries()) {
        const storageKey = toRead[index]!;
        if (read.type === 'entry') group(read.stored.owner, storageKey, read);
        else if (read.type === 'unreadable' && read.owner !== null) group(read.owner, storageKey, read);
        else if (read.type === 'unreadable') await this.quarantine(storageKey, read);
        else if (read.type === 'failed') this.#settings.onError(new Error(`The outbox entry ${storageKey} could not be read: ${read.error.message}; tried again in ${this.#settings.claimIntervalMs} ms`, { cause: read.error }));
      }

      const taken: { owner: string; items: ClaimItem[] }[] = [];
      for (const [owner, items] of byOwner) {
        if (this.#entries.closed) return;
        if (!(await this.#locks.take(owner))) {
          for (const { storageKey } of items) this.#foreign.set(storageKey, owner); // that client is alive and sends them itself
          continue;
        }
        taken.push({ owner, items });
      }
      if (taken.length === 0) return;
      // A client that held these locks until a moment ago may have settled entries read before: only those still listed now are taken.
      const stillListed = new Set(await this.#storage.keys(ENTRY_PREFIX));
      for (const { owner, items } of taken) {
        for (const { storageKey, read: earlier } of items) {
          this.#foreign.delete(storageKey);
          if (!stillListed.has(storageKey)) continue;
          const read = earlier ?? (await this.#limiter.run(() => readEntry(this.#storage, storageKey)));
          if (read.type === 'unreadable') await this.quarantine(storageKey, read);
          else if (read.type === 'failed') this.#settings.onError(read.error);
          else if (read.type === 'entry' && read.stored.owner === owner && !this.#entries.get(read.stored.key)) this.#adoptStored(storageKey, read.stored);
        }
        this.#locks.releaseIfDone(owner);
      }
      if (this.#entries.closed) return;
      this.#entries.publish();
      this.#onLoaded();
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
      void this.quarantine(storageKey, { reason: `its input cannot be revived: ${asError(error).message}`, partial: stored });
      return;
    }
    const age = Math.max(0, this.#clock.wallNow() - stored.createdAt);
    this.#entries.adopt(stored, input, this.#clock.monotonicNow() + this.#settings.maxAgeMs - age, true);
  }

  /** Moves an unreadable entry aside, once, and says so through onError and onSettled. */
  async quarantine(storageKey: string, read: { readonly reason: string; readonly partial: Partial<StoredEntry> | null }): Promise<void> {
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
    this.#entries.report({ type: 'quarantined', entry, error });
  }
}
