/**
 * Counts what each key holds against one cap: connections per address, per
 * user. One implementation for every door, so a WebSocket and an event
 * stream of the same caller draw on the same count.
 */
export class KeyedCounter {
  private readonly held = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Takes `count` (one by default) for `key`; false (nothing taken) when that would pass `max`. */
  acquire(key: string, count = 1): boolean {
    const held = this.held.get(key) ?? 0;
    if (held + count > this.max) return false;
    this.held.set(key, held + count);
    return true;
  }

  release(key: string, count = 1): void {
    const left = (this.held.get(key) ?? count) - count;
    if (left <= 0) this.held.delete(key);
    else this.held.set(key, left);
  }

  /** What `key` holds now. */
  count(key: string): number {
    return this.held.get(key) ?? 0;
  }
}

/** Which cap a connection met: the server's total, or its address's. */
export type SlotRefusal = 'total' | 'address';

/**
 * The connections a server holds (WebSockets, handshakes included, and event
 * streams): in total, per client address from the moment a request arrives,
 * and per user once it is authenticated.
 */
export class ConnectionSlots {
  private total = 0;
  private readonly byAddress: KeyedCounter;
  private readonly byUser: KeyedCounter;

  constructor(
    private readonly maxTotal: number,
    maxPerAddress: number,
    maxPerUser: number,
  ) {
    this.byAddress = new KeyedCounter(maxPerAddress);
    this.byUser = new KeyedCounter(maxPerUser);
  }

  /** Connections held now. */
  get count(): number {
    return this.total;
  }

  /** Takes a slot for a connection from `address`, or says which cap it met. */
  acquireAddress(address: string): SlotRefusal | null {
    if (this.total >= this.maxTotal) return 'total';
    if (!this.byAddress.acquire(address)) return 'address';
    this.total++;
    return null;
  }

  releaseAddress(address: string): void {
    this.total--;
    this.byAddress.release(address);
  }

  /** Takes a slot for a connection of the user `userKey`; false when it holds its cap already. */
  acquireUser(userKey: string): boolean {
    return this.byUser.acquire(userKey);
  }

  releaseUser(userKey: string): void {
    this.byUser.release(userKey);
  }
}
