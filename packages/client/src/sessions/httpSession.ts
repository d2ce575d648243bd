import { TRPCClientError, type Operation, type OperationLink, type OperationResultEnvelope } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { CREDENTIALS_EXPIRY_HEADER } from '@herald/shared/internal';
import { asError, parseError } from '../errors.js';
import type { ConnectionParamsOption } from '../options.js';
import type { EventSourceClass } from '../platform/types.js';
import { heartbeatTickMs, retryAfterMsOf, unref } from '../timers.js';
import { credentialHeaders, ticketedStreamUrl } from './httpCredentials.js';
import { httpLinks, NOT_A_TRPC_RESPONSE, Unrevivable } from './httpLinks.js';
import type { CallEvent, CallType, ConnectionParams, OutgoingCall, Session, SessionHandlers } from './session.js';

export interface HttpSessionSettings {
  /** The credentials the dial resolved; requests use them when the app's `connectionParams` is not a function. */
  readonly connectionParams: ConnectionParams | null;
  /** The app's `connectionParams`: a function is called again for each request and each stream connection. */
  readonly connectionParamsSource: ConnectionParamsOption;
  readonly EventSource: EventSourceClass;
  /** The `fetch` for queries, mutations and probes; the runtime's own by default. */
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

interface RunningCall {
  readonly type: CallType;
  readonly path: string;
  readonly controller: AbortController;
  unsubscribe: (() => void) | null;
  /** A subscription whose stream has not said `connected` yet (a buffering proxy never lets it). */
  startTimer: ReturnType<typeof setTimeout> | null;
}

/**
 * The server's router over HTTP, as one session: tRPC's own links
 * (httpLinks.ts): queries batched, each mutation its own request (with its
 * own `Idempotency-Key` header), and each subscription a Server-Sent Events
 * stream that resumes from the call's last tracked id.
 *
 * Credentials never travel in a URL (proxies, access logs and browser
 * history keep URLs). Every request carries the `connectionParams` in the
 * `Herald-Connection-Params` header, resolved for that request (a function
 * is called again, so a refreshed token applies to the next request). An
 * event stream carries them the same way through the `fetch` its
 * EventSource is given, or, when the EventSource is the browser's own
 * (which sends no headers), exchanges them for a single-use ticket first and
 * carries only `?ticket=` (see `StreamCredentials`). tRPC's link resolves a
 * stream's URL and options per connection, so each connection gets fresh
 * credentials or a new ticket.
 *
 * With the `tracing` option, a call's trace context goes as its request's
 * headers (`traceparent`), an event stream's through its `fetch` as above.
 *
 * The session is up once `HEAD <url>` answers 2xx, and it heartbeats that way
 * after `pingIntervalMs` without any answer. It ends, as a WebSocket would,
 * when a probe fails, a request fails without reaching the server (no tRPC
 * error shape: the network, a proxy), or a stream breaks: the tracker then
 * moves every call to the next session, subscriptions with their last id.
 * tRPC's own EventSource reconnects are cut short that way, so one place
 * decides where calls go and no event is delivered twice.
 */
export class HttpSession implements Session {
  readonly transport = 'http' as const;
  private ready = false;
  private ended = false;
  private probing = false;
  /** When the dial's probe said the credentials expire, kept until the session is ready. */
  private expiryBeforeReady: string | null = null;
  /** The status of a probe answered with an HTTP error (404, 403, 503...). */
  private httpStatus: number | null = null;
  private retryAfterMs: number | null = null;
  private lastSeenAt = Date.now();
  private readonly link: OperationLink<AnyRouter>;
  private readonly running = new Map<number, RunningCall>();
  private readonly heartbeatTimer: ReturnType<typeof setInterval>;
  private readonly fetch: typeof globalThis.fetch;
  /** The credentials in use: the dial's, then the last ones resolved or refreshed. */
  private params: ConnectionParams | null;

  constructor(
    readonly url: string,
    private readonly settings: HttpSessionSettings,
    private readonly handlers: SessionHandlers,
  ) {
    this.fetch = settings.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.params = settings.connectionParams;
    this.link = httpLinks(url, {
      EventSource: settings.EventSource,
      fetch: settings.fetch,
      credentials: async () => credentialHeaders(await this.currentParams()),
      ticketedUrl: () => this.ticketedUrl(),
      streamFetch: (input, init, trace) => this.streamFetch(input, init, trace),
    });

    this.heartbeatTimer = setInterval(() => this.checkHeartbeat(), heartbeatTickMs(settings.pingIntervalMs, settings.pongTimeoutMs));
    unref(this.heartbeatTimer);
    this.probe(settings.connectTimeoutMs).then(
      () => {
        if (this.ended) return;
        this.ready = true;
        this.lastSeenAt = Date.now();
        this.handlers.onReady(this);
        // The probe's 2xx is the server's answer: it serves this endpoint.
        if (!this.ended) this.handlers.onProven(this);
        const expiry = this.expiryBeforeReady;
        this.expiryBeforeReady = null;
        if (expiry !== null) this.noticeExpiry(expiry);
      },
      (error: unknown) => this.fail(asError(error)),
    );
  }

  /**
   * Takes refreshed credentials, and asks the heartbeat endpoint when they
   * expire, so the next refresh is planned even on a session whose streams
   * keep it too busy for a heartbeat.
   */
  refreshCredentials(params: ConnectionParams): void {
    this.params = params;
    this.head(this.settings.pongTimeoutMs).catch(() => {
      // Only the expiry was asked for; the heartbeat decides whether the server is there.
    });
  }

  /**
   * The credentials for a request or stream connection about to start: the
   * app's `connectionParams` function's answer now, or the params in use
   * when it has none. A function that throws fails that request without
   * reaching the server, which ends the session; the reconnect asks again.
   */
  private async currentParams(): Promise<ConnectionParams | null> {
    const source = this.settings.connectionParamsSource;
    if (typeof source === 'function') this.params = await source();
    return this.params;
  }

  /**
   * The `fetch` an event stream's EventSource connects with (each of its own
   * reconnects too): the credentials in the header, and the call's trace context when it has one.
   */
  private async streamFetch(input: string | URL | Request, init: RequestInit | undefined, trace: Readonly<Record<string, string>> | undefined): Promise<Response> {
    const params = await this.currentParams();
    return this.fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string> | undefined), ...trace, ...credentialHeaders(params) } });
  }

  /** An event stream's URL with a new ticket for these credentials (or none without credentials). */
  private async ticketedUrl(): Promise<string> {
    const params = await this.currentParams();
    return params ? ticketedStreamUrl(this.fetch, this.url, params) : this.url;
  }

  get isReady(): boolean {
    return this.ready && !this.ended;
  }

  startCall(call: OutgoingCall): boolean {
    if (!this.isReady) return false;
    const running: RunningCall = { type: call.type, path: call.path, controller: new AbortController(), unsubscribe: null, startTimer: null };
    this.running.set(call.id, running);
    if (call.type === 'subscription') {
      running.startTimer = setTimeout(() => {
        if (this.running.get(call.id) !== running) return;
        this.fail(new Error(`The event stream of ${call.path} did not start within ${this.settings.connectTimeoutMs} ms`));
      }, this.settings.connectTimeoutMs);
      unref(running.startTimer);
    }
    const op: Operation = {
      id: call.id,
      type: call.type,
      path: call.path,
      input: call.type === 'subscription' ? withLastEventId(call.input, call.lastEventId) : call.input,
      context: {
        ...(call.idempotencyKey !== undefined ? { idempotencyKey: call.idempotencyKey } : {}),
        ...(call.trace !== undefined ? { trace: call.trace } : {}),
      },
      signal: running.controller.signal,
    };
    const subscription = this.link({
      op,
      next: () => {
        throw new Error('Herald: the HTTP link chain ends in terminating links');
      },
    }).subscribe({
      next: (envelope) => this.onEnvelope(call.id, running, envelope),
      error: (error) => this.onCallError(call.id, running, error),
      complete: () => this.onCallComplete(call.id, running),
    });
    if (this.running.get(call.id) === running) running.unsubscribe = () => subscription.unsubscribe();
    else subscription.unsubscribe();
    return true;
  }

  stopCall(id: number): void {
    const running = this.running.get(id);
    if (!running) return;
    this.running.delete(id);
    stop(running);
  }

  close(_code?: number, reason = 'client closing'): void {
    this.fail(new Error(reason));
  }

  private onEnvelope(id: number, running: RunningCall, envelope: OperationResultEnvelope<unknown, TRPCClientError<AnyRouter>>): void {
    if (this.ended || this.running.get(id) !== running) return;
    const result = envelope.result as { type?: string; state?: string; error?: unknown; id?: string; data?: unknown };
    if (result.type === 'state') {
      // The stream broke (network, proxy, a retryable server error, or no
      // ping within the server's inactivity bound): the session is lost.
      if (result.state === 'connecting' && result.error) {
        this.fail(new Error(`The event stream of ${running.path} broke: ${asError(result.error).message}`));
      }
      return;
    }
    this.lastSeenAt = Date.now();
    // A tracked event's data is `{ id, data }` (tRPC's SSE reader wraps it).
    const unrevivable = result.data instanceof Unrevivable ? result.data : result.id !== undefined ? (result.data as { data?: unknown } | undefined)?.data : undefined;
    if (unrevivable instanceof Unrevivable) {
      if (running.type !== 'subscription') this.running.delete(id);
      this.emit(id, { type: 'unreadable', error: unrevivable.error });
      return;
    }
    if (running.type !== 'subscription') {
      this.running.delete(id);
      this.emit(id, { type: 'data', data: result.data });
      return;
    }
    if (result.type === 'started') {
      if (running.startTimer) clearTimeout(running.startTimer);
      running.startTimer = null;
      this.emit(id, { type: 'started' });
    } else if (result.type === 'stopped') {
      this.running.delete(id);
      this.emit(id, { type: 'stopped' });
    } else {
      this.emit(id, result.id !== undefined ? { type: 'data', id: String(result.id), data: result.data } : { type: 'data', data: result.data });
    }
  }

  private onCallError(id: number, running: RunningCall, error: unknown): void {
    if (this.ended || this.running.get(id) !== running) return;
    this.running.delete(id);
    const clientError = error instanceof TRPCClientError ? (error as TRPCClientError<AnyRouter>) : null;
    const status = (clientError?.meta as { response?: { status?: unknown } } | undefined)?.response?.status;
    if (!clientError?.shape && clientError?.message === NOT_A_TRPC_RESPONSE && typeof status === 'number' && status >= 200 && status < 300) {
      // The server answered 2xx with something that is not a tRPC response
      // (a proxy's error page comes with an error status, and ends the session below).
      this.lastSeenAt = Date.now();
      this.emit(id, { type: 'unreadable', error: parseError(`an HTTP ${status} answer that is not a tRPC response`) });
      return;
    }
    if (!clientError?.shape) {
      // It never reached the server's router (no error shape): the link is
      // down, not the call. The call stays with the tracker for the next session.
      this.fail(new Error(`HTTP request for ${running.path} failed: ${asError(error).message}`));
      return;
    }
    if ((clientError.data as { heraldCode?: unknown } | undefined)?.heraldCode === 'SERVER_CLOSING') {
      // The server is draining and ran nothing: as a WebSocket client follows
      // the reconnect notice, move the call to the next session (another node).
      this.fail(new Error(`The server is shutting down (${running.path})`));
      return;
    }
    this.lastSeenAt = Date.now();
    this.emit(id, { type: 'error', error: clientError });
  }

  private onCallComplete(id: number, running: RunningCall): void {
    if (this.ended || this.running.get(id) !== running) return;
    this.running.delete(id);
    if (running.type === 'subscription') this.emit(id, { type: 'stopped' });
  }

  private emit(id: number, event: CallEvent): void {
    this.handlers.onEvent(this, id, event);
  }

  /** `HEAD <url>`: a Herald server answers 204 (503 while it shuts down); anything else is not one. */
  private async probe(timeoutMs: number): Promise<void> {
    const response = await this.head(timeoutMs);
    if (!response.ok) {
      this.httpStatus = response.status;
      this.retryAfterMs = retryAfterMsOf(response.headers.get('retry-after'));
      throw new Error(`HEAD ${this.url} answered ${response.status}`);
    }
  }

  /** The heartbeat request, with the credentials: its answer also says when they expire (see `noticeExpiry`). */
  private async head(timeoutMs: number): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`No answer from ${this.url} within ${timeoutMs} ms`)), timeoutMs);
    unref(timer);
    try {
      const headers = credentialHeaders(await this.currentParams());
      const response = await this.fetch(this.url, { method: 'HEAD', cache: 'no-store', signal: controller.signal, headers });
      this.noticeExpiry(response.headers.get(CREDENTIALS_EXPIRY_HEADER));
      return response;
    } catch (error) {
      throw controller.signal.aborted ? asError(controller.signal.reason) : asError(error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The heartbeat said when the credentials expire: passed on as the WebSocket's session notice is (once the session is ready). */
  private noticeExpiry(header: string | null): void {
    if (header === null || !/^\d+$/.test(header) || this.ended) return;
    if (!this.ready) {
      this.expiryBeforeReady = header;
      return;
    }
    this.handlers.onNotice(this, { type: 'credentials', expiresInMs: Number(header), refused: null });
  }

  private checkHeartbeat(): void {
    if (!this.ready || this.ended || this.probing) return;
    if (Date.now() - this.lastSeenAt < this.settings.pingIntervalMs) return;
    this.probing = true;
    this.probe(this.settings.pongTimeoutMs).then(
      () => {
        this.probing = false;
        this.lastSeenAt = Date.now();
      },
      (error: unknown) => {
        this.probing = false;
        this.fail(new Error(`Heartbeat: ${asError(error).message}`));
      },
    );
  }

  private fail(error: Error): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeatTimer);
    const running = [...this.running.values()];
    this.running.clear();
    for (const call of running) stop(call);
    this.handlers.onEnd(this, {
      wasReady: this.ready,
      code: null,
      error,
      refused: false,
      httpStatus: this.httpStatus,
      retryAfterMs: this.retryAfterMs,
      serverError: null,
    });
  }
}

function stop(running: RunningCall): void {
  if (running.startTimer) clearTimeout(running.startTimer);
  running.unsubscribe?.();
  running.controller.abort();
}

/** As tRPC's links put a resume position into an input. */
function withLastEventId(input: unknown, lastEventId: string | undefined): unknown {
  if (lastEventId === undefined) return input;
  if (input !== null && input !== undefined && typeof input !== 'object') return input;
  return { ...(input as object | undefined), lastEventId };
}
