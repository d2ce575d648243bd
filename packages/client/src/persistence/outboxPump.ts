import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { heraldCodeOf } from '@herald/shared';
import { unref } from '../timers.js';
import { outboxErrorOf, type LiveEntries, type LiveEntry } from './liveEntries.js';
import type { DurableOutboxSettings, OutboxClock, OutboxHost } from './outboxSettings.js';

/** What to do with an error a send got. */
export type ErrorKind = 'outcome' | 'resend' | 'later' | 'closing';

/**
 * Whether an error is the mutation's outcome. The client's own errors, the
 * server going away, the connection being refused (its errors name no
 * `path`), and a repeat that found the first attempt still running are not:
 * the entry is sent again. A refusal that is final is the outcome although
 * the client made it: `PAYLOAD_TOO_LARGE` (the server closed on the entry's
 * frame with 1009; sent again, it would be refused again, forever).
 */
export function errorKind(error: TRPCClientError<AnyRouter>): ErrorKind {
  const heraldCode = heraldCodeOf(error);
  if (heraldCode === 'CLIENT_CLOSED') return 'closing';
  if (heraldCode === 'PAYLOAD_TOO_LARGE') return 'outcome';
  if (heraldCode === 'OFFLINE_TIMEOUT') return 'resend';
  // Sent, and no answer came (in `callTimeoutMs`, or before the offline bound), or the server's broker failed
  // (the server released the key, and a rerun learns what a timed-out publish did): sent again with the same
  // key once the connection is open, so the mutation takes effect once.
  if (heraldCode === 'OUTCOME_UNKNOWN' || heraldCode === 'BROKER_UNAVAILABLE') return 'later';
  if (heraldCode === 'OFFLINE_QUEUE_FULL' || heraldCode === 'SERVER_CLOSING' || heraldCode === 'CONNECTION_LOST' || heraldCode === 'TOKEN_EXPIRED') {
    return 'later';
  }
  const data = error.data as { code?: unknown; path?: unknown } | undefined;
  if (data?.code === 'TIMEOUT' || typeof data?.path !== 'string') return 'later';
  return 'outcome';
}

/**
 * Sends the outbox's entries through its host: in order (the default), the
 * first pending entry once no other is being sent, so the server runs them
 * in the order they were written over any transport (HTTP sends each
 * mutation as its own request); otherwise every pending entry whose record
 * is written. Each send is bounded by its entry's expiry; an error that is
 * not the mutation's outcome sends it again (at once, or once the
 * connection is open).
 */
export class OutboxPump {
  readonly #entries: LiveEntries;
  readonly #host: OutboxHost;
  readonly #settings: DurableOutboxSettings;
  readonly #clock: OutboxClock;
  /** The first claim is done: the stored backlog is in the queue, so sending in order may begin. */
  #loaded = false;
  #pumping = false;
  #pumpAgain = false;

  constructor(entries: LiveEntries, host: OutboxHost, settings: DurableOutboxSettings, clock: OutboxClock) {
    this.#entries = entries;
    this.#host = host;
    this.#settings = settings;
    this.#clock = clock;
  }

  /** The stored backlog is loaded: sends what may go. */
  loaded(): void {
    this.#loaded = true;
    this.pump();
  }

  /** Sends what may go now. */
  pump(): void {
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
    if (this.#entries.closed) return;
    // In order, nothing goes before the stored backlog is loaded: some of it comes first.
    if (this.#settings.inOrder && !this.#loaded) return;
    for (let head = this.#entries.head(); head; head = this.#entries.head()) {
      // An entry goes out only once its record is in storage (a crash after a send must find it); its write's end pumps again.
      if (!head.durable) return;
      if (this.#settings.inOrder) {
        if (!head.active) this.#send(head);
        return;
      }
      this.#entries.popHead();
      if (!head.active) this.#send(head);
    }
  }

  #send(live: LiveEntry): void {
    if (this.#entries.closed || !live.durable || !this.#entries.isCurrent(live)) return;
    live.active = true;
    const left = live.deadline - this.#clock.monotonicNow();
    if (left <= 0) {
      this.#entries.expire(live);
      return;
    }
    if (!live.expiryTimer) {
      live.expiryTimer = setTimeout(() => this.#entries.expire(live), left);
      unref(live.expiryTimer);
    }
    let answered = false;
    const cancel = this.#host.mutate(
      { path: live.entry.path, input: live.entry.input, idempotencyKey: live.entry.key },
      {
        next: (result) => {
          if (result.type !== 'data' || answered) return;
          answered = true;
          this.#entries.succeed(live, result.data);
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
    if (!this.#entries.isCurrent(live)) return;
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
        this.#entries.fail(live, 'error', outboxErrorOf(error), error);
    }
  }

  /** Sends again once the connection is open (after `retryDelayMs` when it is open now). */
  #sendLater(live: LiveEntry): void {
    if (this.#entries.closed) return;
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
}
