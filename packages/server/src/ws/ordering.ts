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
  /** When each opening subscription is live or gone; null (not an empty set) while none is, the usual case. */
  private pending: Set<Promise<void>> | null = null;

  /**
   * Registers a subscription that starts opening now. Returns the function
   * that marks it live or gone (safe to call more than once); `signal`
   * aborting (a `subscription.stop`, the socket closing) marks it gone.
   */
  open(signal: AbortSignal): () => void {
    let resolve!: () => void;
    const settled = new Promise<void>((done) => (resolve = done));
    const pending = (this.pending ??= new Set());
    pending.add(settled);
    let done = false;
    const mark = () => {
      if (done) return;
      done = true;
      signal.removeEventListener('abort', mark);
      resolve();
      const current = this.pending;
      if (!current) return;
      current.delete(settled);
      if (current.size === 0) this.pending = null;
    };
    signal.addEventListener('abort', mark, { once: true });
    return mark;
  }

  /**
   * What a query or mutation arriving now waits for before it starts: the
   * subscriptions opening at this moment (not those sent after it), or null
   * when it may start at once.
   */
  barrier(): Promise<unknown> | null {
    return this.pending === null ? null : Promise.all(this.pending);
  }
}
