import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { transformer } from '@herald/shared';
import { isPlainJson } from '@herald/shared/internal';
import { clientError } from '../errors.js';
import { everyMs } from '../timers.js';
import type { CallEvent, CallType, Session } from '../sessions/session.js';
import type { ClientCallSpan, ClientTracing } from './tracing.js';

export type { CallType } from '../sessions/session.js';

/** How a call reports back; the link turns these into tRPC's observable events. */
export interface CallObserver {
  next(result: { type: 'started' } | { type: 'data'; id?: string; data: unknown }): void;
  error(error: TRPCClientError<AnyRouter>): void;
  complete(): void;
}

export interface CallRequest {
  readonly type: CallType;
  readonly path: string;
  readonly input: unknown;
  /** Resume position for a subscription (from the op's input, if the app passed one). */
  readonly lastEventId?: string | undefined;
  /** A mutation's idempotency key, when the caller has one (the outbox of `persistence`); else the tracker makes one. */
  readonly idempotencyKey?: string | undefined;
  /** The call's tRPC `context`; the tracker does not read it (persistence does: `outbox`, `position`). */
  readonly context?: Readonly<Record<string, unknown>> | undefined;
}

export interface TrackerSettings {
  /** Calls that may wait for a socket at once. */
  readonly maxQueued: number;
  /** How long a query or mutation may wait for a socket before it fails. */
  readonly maxQueuedAgeMs: number;
  /** How long a query or mutation may go unanswered after its first send before it fails with `OUTCOME_UNKNOWN`; null: no bound. */
  readonly callTimeoutMs: number | null;
  /** Resend in-flight mutations (with their idempotency key) after a reconnect. */
  readonly retryMutations: boolean;
  /** Makes idempotency keys; crypto.randomUUID where there is one. */
  readonly newKey: () => string;
  /** Hears of an unreadable frame that no call of this tracker took (the client's `onError`). */
  readonly onError: (error: TRPCClientError<AnyRouter>) => void;
  /** Spans of calls (the `tracing` option); null: none. */
  readonly tracing: ClientTracing | null;
}

interface Call extends CallRequest {
  readonly id: number;
  readonly inputJson: string | undefined;
  readonly idempotencyKey: string | undefined;
  readonly observer: CallObserver;
  /** The session it was last sent on; null while it waits for one. */
  session: Session | null;
  /** When it started waiting for a session (for the offline age bound). */
  waitingSince: number;
  /** When it was first handed to a session (for `callTimeoutMs`, and to tell `OUTCOME_UNKNOWN` from `OFFLINE_TIMEOUT`); 0 until then. */
  sentAt: number;
  lastEventId: string | undefined;
  started: boolean;
  /** Its span, when `tracing` records one; its trace context goes out with it (`trace`). */
  readonly span: ClientCallSpan | null;
  readonly trace: Readonly<Record<string, string>> | undefined;
}

/** The JSON text of `transformer.serialize(undefined)`, made once. */
const NO_INPUT = JSON.stringify(transformer.serialize(undefined));

/**
 * The JSON text of the input through the transformer, made once per call
 * (a resend sends the same text, whatever the app did to the object since).
 * Plain JSON is `{"json":…}` without superjson's walk (see `isPlainJson`).
 */
function inputJsonOf(input: unknown): string | undefined {
  if (input === undefined) return NO_INPUT;
  if (isPlainJson(input)) return `{"json":${JSON.stringify(input)}}`;
  return JSON.stringify(transformer.serialize(input)) as string | undefined;
}

/**
 * Every call of one client, whatever socket it is on. Calls are sent the
 * moment a socket is ready (no batching timer), wait in a bounded queue while
 * there is none, and are sent again on the next socket when theirs is lost:
 * queries as they are, mutations with the same idempotency key (a Herald
 * server answers a repeat with the first result), subscriptions with the last
 * tracked id they delivered. Frames from a socket a call has left are ignored.
 * Sessions may be WebSockets or HTTP: a call moves between transports the
 * same way it moves between sockets.
 */
export class RequestTracker {
  readonly #calls = new Map<number, Call>();
  #lastId = 0;
  /** Stops this tracker's sweep (on the timer it shares with every tracker, see `everyMs`). */
  readonly #stopSweep: () => void;
  #session: Session | null = null;
  #closed = false;
  /** The error of the refusal that stopped the connection; queries and mutations fail with it until `resume()`. */
  #refusal: TRPCClientError<AnyRouter> | null = null;

  readonly #settings: TrackerSettings;

  constructor(settings: TrackerSettings) {
    this.#settings = settings;
    this.#stopSweep = everyMs(sweepIntervalMs(settings), () => this.#sweep());
  }

  /** Starts a call; returns the function that cancels it. */
  start(request: CallRequest, observer: CallObserver): () => void {
    if (this.#closed) {
      observer.error(clientError('CLIENT_CLOSED', 'This Herald client was closed; create a new one to reconnect'));
      return () => undefined;
    }
    if (this.#refusal && request.type !== 'subscription') {
      observer.error(this.#refusal);
      return () => undefined;
    }
    if (!this.#session && this.#queuedCount() >= this.#settings.maxQueued) {
      observer.error(clientError('OFFLINE_QUEUE_FULL', `${this.#settings.maxQueued} calls are already waiting for the connection`));
      return () => undefined;
    }
    const span = this.#settings.tracing?.startCall(request.type, request.path) ?? null;
    const call: Call = {
      type: request.type,
      path: request.path,
      input: request.input,
      id: ++this.#lastId,
      inputJson: inputJsonOf(request.input),
      idempotencyKey: request.type === 'mutation' ? (request.idempotencyKey ?? this.#settings.newKey()) : undefined,
      observer: span ? tracedObserver(observer, span) : observer,
      session: null,
      waitingSince: Date.now(),
      sentAt: 0,
      lastEventId: request.lastEventId,
      started: false,
      span,
      trace: span?.carrier ?? undefined,
    };
    this.#calls.set(call.id, call);
    if (this.#session) this.#sendOn(call, this.#session);
    return () => this.#cancel(call);
  }

  /** A socket is ready: everything not on it goes out on it, oldest first. */
  onSession(session: Session): void {
    this.#session = session;
    for (const call of this.#calls.values()) {
      if (call.session !== session) this.#sendOn(call, session);
    }
  }

  /**
   * `session` ended. Its calls wait for the next one; their offline deadline
   * starts again only if the server served `session` (`proven`): a
   * connection that flaps open and closed must not keep a call alive past
   * `maxQueuedAgeMs`.
   */
  onSessionLost(session: Session, proven: boolean): void {
    if (this.#session === session) this.#session = null;
    const now = Date.now();
    for (const call of [...this.#calls.values()]) {
      if (call.session !== session) continue;
      call.session = null;
      if (proven) call.waitingSince = now;
      if (call.type === 'mutation' && !this.#settings.retryMutations) {
        this.#finish(call);
        call.observer.error(
          clientError('CONNECTION_LOST', 'The connection dropped while this mutation was in flight; it may or may not have run'),
        );
      }
    }
  }

  /**
   * One event of a call, from the session it is on (events from a session it
   * has left are ignored). An unreadable frame fails its call, and stops a
   * subscription on the server, which still runs it; one that no call takes
   * goes to `onError`.
   */
  onEvent(session: Session, id: number, event: CallEvent): void {
    const call = this.#calls.get(id);
    if (!call || call.session !== session) {
      if (event.type === 'unreadable') this.#settings.onError(event.error);
      return;
    }
    if (event.type === 'error' || event.type === 'unreadable') {
      this.#finish(call);
      if (event.type === 'unreadable' && call.type === 'subscription') session.stopCall(id);
      call.observer.error(event.error);
      return;
    }
    if (call.type !== 'subscription') {
      if (event.type !== 'data') return;
      this.#finish(call);
      call.observer.next({ type: 'data', data: event.data });
      call.observer.complete();
      return;
    }
    if (event.type === 'started') {
      // A resubscription after a reconnect (or a move to another transport) is invisible to the app.
      if (!call.started) {
        call.started = true;
        call.observer.next({ type: 'started' });
      }
    } else if (event.type === 'stopped') {
      this.#finish(call);
      call.observer.complete();
    } else {
      if (event.id !== undefined) call.lastEventId = event.id;
      call.observer.next({ type: 'data', ...(event.id !== undefined ? { id: event.id } : {}), data: event.data });
    }
  }

  /**
   * The server refused the connection and the client stopped: every query
   * and mutation fails with `error`, and so do new ones until `resume()`.
   * Subscriptions wait: `client.reconnect()` resumes them from their last
   * tracked id.
   */
  refuse(error: TRPCClientError<AnyRouter>): void {
    if (this.#closed) return;
    this.#refusal = error;
    for (const call of [...this.#calls.values()]) {
      if (call.type === 'subscription') continue;
      this.#finish(call);
      call.session?.stopCall(call.id);
      call.observer.error(error);
    }
  }

  /** The app asked to connect again: calls wait for the connection again. */
  resume(): void {
    this.#refusal = null;
  }

  /** Fails every call; the client is closing. */
  close(): void {
    this.#closed = true;
    this.#stopSweep();
    for (const call of [...this.#calls.values()]) {
      this.#finish(call);
      if (call.type === 'subscription') call.observer.complete();
      else call.observer.error(clientError('CLIENT_CLOSED', 'The client was closed before the call was answered'));
    }
  }

  #sendOn(call: Call, session: Session): void {
    // A query or mutation is sent as it is (nothing of it that a session reads changes);
    // a subscription as a copy, since its lastEventId moves on as events arrive.
    const sent = session.startCall(
      call.type !== 'subscription'
        ? call
        : {
            id: call.id,
            type: call.type,
            path: call.path,
            input: call.input,
            inputJson: call.inputJson,
            lastEventId: call.lastEventId,
            idempotencyKey: call.idempotencyKey,
            trace: call.trace,
          },
    );
    if (!sent) return;
    call.session = session;
    // Handed to a session counts as sent: a batch the session drops at its end is rare, and OUTCOME_UNKNOWN is the safe thing to say of it.
    if (call.sentAt === 0) call.sentAt = Date.now();
  }

  #cancel(call: Call): void {
    if (this.#calls.get(call.id) !== call) return;
    this.#finish(call);
    call.span?.end();
    call.session?.stopCall(call.id);
  }

  #finish(call: Call): void {
    this.#calls.delete(call.id);
  }

  #queuedCount(): number {
    let count = 0;
    for (const call of this.#calls.values()) if (call.session === null) count++;
    return count;
  }

  /**
   * The one timer of all calls (no timer per call; shared with other clients' trackers): fails each query or
   * mutation past its bound. Never sent and waiting past `maxQueuedAgeMs`:
   * `OFFLINE_TIMEOUT`, it did not run. Sent, and then waiting past
   * `maxQueuedAgeMs` for a connection or unanswered `callTimeoutMs` after
   * its first send: `OUTCOME_UNKNOWN`, it may have run (a mutation's error
   * carries its `idempotencyKey` for a retry that runs it at most once), and
   * its session is asked to stop it.
   */
  #sweep(): void {
    const now = Date.now();
    const { maxQueuedAgeMs, callTimeoutMs } = this.#settings;
    const offlineSince = now - maxQueuedAgeMs;
    for (const call of [...this.#calls.values()]) {
      // Subscriptions wait as long as the app keeps them.
      if (call.type === 'subscription') continue;
      const offline = call.session === null && call.waitingSince <= offlineSince;
      const unanswered = callTimeoutMs !== null && call.sentAt !== 0 && now - call.sentAt >= callTimeoutMs;
      if (!offline && !unanswered) continue;
      this.#finish(call);
      if (call.sentAt === 0) {
        call.observer.error(clientError('OFFLINE_TIMEOUT', `No connection for ${maxQueuedAgeMs} ms; the ${call.type} was never sent`));
        continue;
      }
      call.session?.stopCall(call.id);
      const why = offline
        ? `was sent, then its connection was lost and none came back for ${maxQueuedAgeMs} ms`
        : `was sent ${now - call.sentAt} ms ago and got no answer (callTimeoutMs is ${String(callTimeoutMs)})`;
      const retry =
        call.type === 'mutation'
          ? `It may or may not have run: retry it with the same idempotency key (error.data.idempotencyKey, as context.idempotencyKey) and a Herald server runs it at most once`
          : 'A query can simply be retried';
      call.observer.error(clientError('OUTCOME_UNKNOWN', `The ${call.type} ${why}. ${retry}`, call.idempotencyKey === undefined ? undefined : { idempotencyKey: call.idempotencyKey }));
    }
  }
}

/** How often the sweep runs: a quarter of the shorter bound, between 50 ms and 1 s. */
function sweepIntervalMs(settings: Pick<TrackerSettings, 'maxQueuedAgeMs' | 'callTimeoutMs'>): number {
  return Math.max(50, Math.min(1_000, Math.min(settings.maxQueuedAgeMs, settings.callTimeoutMs ?? Infinity) / 4));
}

/**
 * `observer`, ending `span` with the call: a query's or mutation's answer,
 * a subscription's start, or the error either ends with.
 */
function tracedObserver(observer: CallObserver, span: ClientCallSpan): CallObserver {
  return {
    next(result) {
      if (result.type === 'started') span.end();
      observer.next(result);
    },
    error(error) {
      span.end({ code: error.data?.code ?? 'ERROR', message: error.message });
      observer.error(error);
    },
    complete() {
      span.end();
      observer.complete();
    },
  };
}
