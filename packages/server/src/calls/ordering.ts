/**
 * Ordering on one socket: requests take effect in the order they were sent.
 * A query or mutation starts only once every subscription sent before it on
 * the same socket is live (authorized, attached to its channel's live
 * delivery, history read, presence joined) or gone (refused, failed,
 * stopped). So a subscription followed at once by a mutation that publishes
 * on it sees that message, with no wait in between on the client.
 *
 * ```
 * socket:  sub A ── sub B ── mutation M ── query Q ── sub C
 *           │        │          │            │         │
 *           ▼        ▼          │            │         ▼
 *        opening  opening       │            │      opening (waits for nothing)
 *           │        │          ▼            ▼
 *           └── live ┴──▶ M starts      Q starts (after A and B, not C)
 * ```
 *
 * Subscriptions never wait (for each other or for calls before them), so a
 * client resubscribing many streams at once opens them side by side; a call
 * behind no opening subscription starts at once, so the common path pays one
 * null check. `subscription.stop` is never held: it acts on arrival, and
 * stopping an opening subscription lets the calls behind it start.
 */
export class OpeningSubscriptions {
  /** The subscriptions opening now; null (not an empty set) while none is, the usual case. */
  private pending: Set<Opening> | null = null;

  /**
   * Registers a subscription that starts opening now. `settle` on what it
   * returns marks it live or gone; the call's abort (a `subscription.stop`,
   * the socket closing) settles it too (see `RunningCall`).
   */
  open(): Opening {
    const opening = new Opening(this);
    (this.pending ??= new Set()).add(opening);
    return opening;
  }

  /**
   * What a query or mutation arriving now waits for before it starts: the
   * subscriptions opening at this moment (not those sent after it), or null
   * when it may start at once.
   */
  barrier(): Promise<unknown> | null {
    return this.pending === null ? null : Promise.all(Array.from(this.pending, (opening) => opening.settled()));
  }

  /** `Opening.settle`: `opening` no longer holds anything back. */
  remove(opening: Opening): void {
    const pending = this.pending;
    if (!pending) return;
    pending.delete(opening);
    if (pending.size === 0) this.pending = null;
  }
}

/**
 * One subscription while it opens. No promise, closure or abort listener of
 * its own unless a call has to wait for it (`settled`): a subscription that
 * nothing waits for costs this object and its place in the set.
 */
export class Opening {
  private done = false;
  private waiter: { readonly promise: Promise<void>; readonly resolve: () => void } | null = null;

  constructor(private readonly owner: OpeningSubscriptions) {}

  /** Marks the subscription live or gone; safe to call more than once. */
  settle(): void {
    if (this.done) return;
    this.done = true;
    this.waiter?.resolve();
    this.owner.remove(this);
  }

  /** Resolves once `settle` was called (made on the first call). */
  settled(): Promise<void> {
    if (this.done) return Promise.resolve();
    if (!this.waiter) {
      let resolve!: () => void;
      const promise = new Promise<void>((done) => (resolve = done));
      this.waiter = { promise, resolve };
    }
    return this.waiter.promise;
  }
}
