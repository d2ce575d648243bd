/**
 * A bounded FIFO between the node's fan-out (which pushes synchronously, for
 * every subscriber of a topic) and one subscriber's async consumer. Pushing
 * never blocks the publisher: a subscriber that falls `capacity` items behind
 * is marked overflowed and its backlog dropped, and the consumer recovers the
 * dropped part from history instead of holding unbounded memory.
 */
export class SubscriberQueue<T> {
  private items: T[] = [];
  private head = 0;
  private waiter: (() => void) | null = null;
  private overflowedFlag = false;

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (this.overflowedFlag) return;
    if (this.items.length - this.head >= this.capacity) {
      this.requestResync();
      return;
    }
    this.items.push(item);
    this.wake();
  }

  /** Takes everything queued, in order. */
  drain(): T[] {
    const out = this.head === 0 ? this.items : this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return out;
  }

  /** Drops the backlog and asks the consumer to resync from history (overflow, broker interruption). */
  requestResync(): void {
    this.overflowedFlag = true;
    this.items = [];
    this.head = 0;
    this.wake();
  }

  /** True once after an overflow or `requestResync`; the caller must then resync from history. */
  takeResync(): boolean {
    const flag = this.overflowedFlag;
    this.overflowedFlag = false;
    return flag;
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** Resolves when an item arrives, on overflow, or when `signal` aborts. */
  wait(signal: AbortSignal): Promise<void> {
    if (this.size > 0 || this.overflowedFlag || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.waiter = null;
        resolve();
      };
      this.waiter = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    this.waiter?.();
  }
}
