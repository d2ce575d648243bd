import type { ServerEvent } from '../observability/serverEvents.js';

/** An event of the admin page's log, with the node it happened on. */
export interface AdminEvent extends ServerEvent {
  readonly nodeId: string;
}

/** Events one node keeps: what it sends with each snapshot is at most this many. */
export const NODE_EVENT_CAPACITY = 200;
/** Events the cluster's log keeps, newest first, on every node with the admin page. */
export const CLUSTER_EVENT_CAPACITY = 500;

/**
 * A bounded log of events, oldest overwritten first: a burst of refusals
 * costs a fixed amount of memory, and says how many were let go.
 */
export class EventRing<T> {
  private readonly items: (T | undefined)[];
  /** Where the next item goes. */
  private next = 0;
  private size = 0;
  /** Items overwritten before anyone took them. */
  private lost = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    else this.lost++;
  }

  /** The items held, newest first; at most `limit`. */
  newest(limit = this.capacity): T[] {
    const out: T[] = [];
    for (let i = 1; i <= Math.min(limit, this.size); i++) out.push(this.items[(this.next - i + this.capacity) % this.capacity] as T);
    return out;
  }

  /** Takes every item held, oldest first, and how many were overwritten since the last take; the ring is empty after. */
  take(): { readonly items: T[]; readonly lost: number } {
    const items = this.newest().reverse();
    const lost = this.lost;
    this.items.fill(undefined);
    this.next = 0;
    this.size = 0;
    this.lost = 0;
    return { items, lost };
  }
}
