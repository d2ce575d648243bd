import type { Opening } from './ordering.js';

/**
 * A query, mutation or stepped subscription running for a caller; aborting
 * it cancels it. Its `AbortController` is made the first time
 * something reads it (the procedure reading `signal`, a subscription
 * listening for the end): most calls never do, and an `AbortController`
 * costs more than the rest of a small call's bookkeeping. One made after
 * the call was aborted is aborted at once.
 */
export class RunningCall {
  #controller: AbortController | null = null;
  #aborted = false;
  /** A subscription's place among those opening on its socket (ordering.ts): an abort settles it. */
  opening: Opening | null = null;

  constructor(readonly type: 'query' | 'mutation' | 'subscription') {}

  get controller(): AbortController {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller;
  }

  /** The call's signal, a real `AbortSignal` (made on first read). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  /** Cancels it: aborts its signal. */
  stop(): void {
    this.abort();
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
    this.opening?.settle();
  }
}

/** Returned instead of a result when the call was not run (its caller was refused, or it was cancelled first). */
export const SKIPPED = Symbol('skipped');
