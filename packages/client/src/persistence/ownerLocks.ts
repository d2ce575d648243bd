import { asError } from '../errors.js';
import type { HeraldStorage } from './storage.js';

/** Each client holds the lock `OWNER_LOCK_PREFIX + its owner id` for its lifetime, and those of the gone owners whose entries it took over. */
export const OWNER_LOCK_PREFIX = 'herald-outbox-owner/';

/** An owner id whose lock this client holds: its own, or a gone client's whose entries it took over. */
interface OwnerHold {
  readonly release: (() => Promise<void>) | null;
  /** Its entries this client still has. */
  count: number;
}

/**
 * The owner locks one outbox holds. Two clients never send one entry: each
 * sends only the entries of owners whose lock it holds, and gives back a
 * gone owner's lock once none of its entries is left here.
 */
export class OwnerLocks {
  /** This client's own owner id. */
  readonly own: string;
  readonly #storage: HeraldStorage;
  readonly #holds = new Map<string, OwnerHold>();
  /** Resolves once the storage writes under way have landed. */
  readonly #drained: () => Promise<unknown>;
  readonly #onError: (error: Error) => void;

  constructor(storage: HeraldStorage, own: string, drained: () => Promise<unknown>, onError: (error: Error) => void) {
    this.#storage = storage;
    this.own = own;
    this.#drained = drained;
    this.#onError = onError;
  }

  /** Takes this client's own lock, held until `releaseAll`. */
  async takeOwn(): Promise<void> {
    this.#holds.set(this.own, { release: await this.#storage.tryLock(OWNER_LOCK_PREFIX + this.own), count: 0 });
  }

  holds(owner: string): boolean {
    return this.#holds.has(owner);
  }

  /** Takes a gone owner's lock; false when another client holds it (that client is alive and sends its entries itself). */
  async take(owner: string): Promise<boolean> {
    const release = await this.#storage.tryLock(OWNER_LOCK_PREFIX + owner);
    if (!release) return false;
    this.#holds.set(owner, { release, count: 0 });
    return true;
  }

  /** One more entry of `owner` is here (nothing for an owner whose lock is not held). */
  added(owner: string): void {
    const hold = this.#holds.get(owner);
    if (hold) hold.count++;
  }

  /** One entry of `owner` left; its lock goes back once none is left. */
  removed(owner: string): void {
    const hold = this.#holds.get(owner);
    if (!hold) return;
    hold.count--;
    this.releaseIfDone(owner);
  }

  /**
   * Gives back the lock of a gone owner once none of its entries is left
   * here, after the writes under way (an entry's removal must land before
   * another client may read it).
   */
  releaseIfDone(owner: string): void {
    const hold = this.#holds.get(owner);
    if (!hold || owner === this.own || hold.count > 0) return;
    void Promise.resolve()
      .then(this.#drained)
      .then(async () => {
        if (hold.count > 0 || this.#holds.get(owner) !== hold) return;
        this.#holds.delete(owner);
        await hold.release?.();
      })
      .catch((error: unknown) => this.#onError(asError(error)));
  }

  /**
   * Gives back every lock held, this client's own included, each even when
   * giving back another failed (a lock kept by a closed client would stop
   * every later client from sending its owner's entries); the first failure
   * is thrown once all were tried.
   */
  async releaseAll(): Promise<void> {
    const holds = [...this.#holds.values()];
    this.#holds.clear();
    const results = await Promise.allSettled(holds.map(async (hold) => hold.release?.()));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw asError(failed.reason);
  }
}
