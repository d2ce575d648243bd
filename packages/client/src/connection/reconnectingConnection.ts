import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { Transport } from '@herald/shared';
import { CLOSE_NORMAL } from '@herald/shared/internal';
import { asError, refusalError } from '../errors.js';
import type { ConnectionParamsOption } from '../options.js';
import type { EventSourceClass } from '../platform/types.js';
import type { CallEvent, CommonSessionSettings, ConnectionNotice, ConnectionParams, Session, SessionEnd, SessionHandlers } from '../sessions/session.js';
import { SocketSession } from '../sessions/socketSession.js';
import { ConnectionStateMachine } from './connectionState.js';
import { CredentialRefresh } from './credentialRefresh.js';
import type { HttpConfig, HttpConnectionParts } from './httpTransport.js';
import { MAX_REFUSALS_IN_ROW, refusalOf, type Refusal } from './refusal.js';
import { UrlRotation } from './urlRotation.js';

export interface ConnectionListener {
  /** `session` is ready; everything waiting should go out on it (a reconnect, or a move). */
  onSession(session: Session): void;
  /**
   * `session` ended; what was in flight on it must wait for the next one.
   * `proven`: the server had answered on it (see `SessionHandlers.onProven`).
   */
  onSessionLost(session: Session, proven: boolean): void;
  /** The server's refusal stopped the connection: calls waiting for it fail with `error`. */
  refuse(error: TRPCClientError<AnyRouter>): void;
  /** The app asked to connect again after a refusal. */
  resume(): void;
  /** An event of one call, decoded by its session. */
  onEvent(session: Session, callId: number, event: CallEvent): void;
}

/** The connection's part of the client's resolved options (config.ts). */
export interface ConnectionSettings {
  /** WebSocket URLs. */
  readonly urls: readonly string[];
  /**
   * The HTTP transport's settings (`@herald/client/http`, for `transport`
   * `http` or `auto`), or null: then the connection dials WebSockets only.
   */
  readonly http: HttpConfig | null;
  readonly connectionParams: ConnectionParamsOption;
  readonly retryDelayMs: (attempt: number) => number;
  readonly WebSocket: typeof globalThis.WebSocket;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxCallsPerFrame: number;
  /** Offer MessagePack on every WebSocket (`encoding: 'msgpack'`). */
  readonly msgpack: boolean;
  /** An in-band credentials refresh failed (see `CredentialRefresh`): the app's `onRefreshError`. */
  readonly onRefreshError: (error: TRPCClientError<AnyRouter>) => void;
  /** A frame no call takes could not be read: the app's `onError`. */
  readonly onError: (error: TRPCClientError<AnyRouter>) => void;
}

/**
 * Keeps one usable session: dials, redials with backoff after a loss, follows
 * the server's `reconnect` notice (make the new socket, move everything to
 * it, then close the old one), picks the transport, and owns the connection
 * state.
 *
 * ```
 *  connecting ──ready──▶ open ──lost──▶ reconnecting ──ready──▶ open
 *      │                  │  ▲               │ ▲
 *      └──failed──────────┼──┼──▶ reconnecting (attempt n+1, after backoff)
 *                         └─reconnect notice / upgrade probe: open stays open while the new socket dials
 *  refused twice in a row (4001, HTTP 401/403/404) ──▶ closed { refusal } ──reconnect()──▶ connecting
 *  close() from any state ──▶ closed (for good)
 * ```
 *
 * The backoff starts over only once a connection has proved itself: the
 * server answered on it (a call's answer or a heartbeat; see
 * `SessionHandlers.onProven`). A socket that opens is not enough: a server
 * whose `createContext` throws accepts the upgrade and closes at once, and a
 * client that reset its backoff on every open would redial it in a storm.
 * Waiting for an answer rather than a fixed open time needs no timer and
 * proves what matters (the server serves this connection); a quiet client's
 * first heartbeat answer proves it within `pingIntervalMs`.
 *
 * Refusals (see `refusalOf`): credentials refused (4001) or an upgrade
 * answered 401, 403 or 404 is retried once, after backoff, with fresh
 * `connectionParams`; a second in a row (with no connection the server
 * served in between) stops the client in `closed`, with the close code or
 * HTTP status, and calls waiting for it fail with a typed error until the
 * app calls `reconnect()`. While an older connection still serves (a
 * replacement after the server's reconnect notice), refusals only slow the
 * retries: the client stops if the refusals go on once it is gone. A server
 * that is full or draining (429, 503) is retried with backoff, never sooner
 * than its `Retry-After`.
 *
 * With `transport: 'auto'` on HTTP, an upgrade probe dials a WebSocket every
 * `upgradeProbeIntervalMs`; when it opens, calls move to it exactly as on a
 * reconnect notice (subscriptions with their last tracked id), then the HTTP
 * session closes. A probe that fails changes nothing the app can see.
 */
export class ReconnectingConnection {
  readonly state = new ConnectionStateMachine();
  #current: Session | null = null;
  /** A session dialing to replace `current` (after a loss, on the server's notice, or as an upgrade probe). */
  #dialing: Session | null = null;
  /** `dialing` is an upgrade probe: its failure is quiet. */
  #dialingIsProbe = false;
  /** A dial waiting for `connectionParams`. */
  #preparing = false;
  #attempt = 0;
  /** Refusals in a row with no connection the server served in between. */
  #refusalsInRow = 0;
  /** Sessions the server answered on. */
  readonly #proven = new WeakSet<Session>();
  #retryTimer: ReturnType<typeof setTimeout> | null = null;
  /** The app closed the client: terminal. */
  #closed = false;
  /** The WebSocket URLs, in rotation. */
  readonly #urls: UrlRotation;
  /** The transport chooser, upgrade probe, HTTP endpoints and sessions of `http` and `auto`; null without the HTTP transport (WebSocket only). */
  readonly #http: HttpConnectionParts | null;
  readonly #refresh: CredentialRefresh;

  readonly #settings: ConnectionSettings;
  readonly #listener: ConnectionListener;

  constructor(settings: ConnectionSettings, listener: ConnectionListener) {
    this.#listener = listener;
    this.#settings = settings;
    this.#refresh = new CredentialRefresh(settings.connectionParams, settings.onRefreshError);
    this.#urls = new UrlRotation(settings.urls);
    this.#http =
      settings.http?.transport.connectionParts(settings.http, {
        stopped: () => this.#stopped,
        current: () => this.#current,
        busy: () => this.#dialing !== null || this.#preparing || this.#retryTimer !== null,
        dialProbe: () => void this.#dial(true),
      }) ?? null;
  }

  /** The ready session, if there is one. */
  get session(): Session | null {
    return this.#current?.isReady ? this.#current : null;
  }

  start(): void {
    void this.#dial();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearRetry();
    this.#http?.probe?.clear();
    this.#refresh.clear();
    this.state.set({ status: 'closed' });
    this.#dialing?.close();
    this.#current?.close();
  }

  /**
   * Connects again: after a refusal stopped the client (`closed` with
   * `refusal`), or at once when a retry waits for its backoff. The refusal
   * count and the backoff start over, and the dial asks `connectionParams`
   * anew. Does nothing while open or dialing, or after `close()`.
   */
  reconnect(): void {
    if (this.#closed) return;
    this.#attempt = 0;
    this.#refusalsInRow = 0;
    if (this.state.current.status === 'closed') {
      this.#listener.resume();
      this.state.set({ status: 'connecting', url: null });
    }
    if (this.#current?.isReady || this.#dialing || this.#preparing) return;
    this.#clearRetry();
    void this.#dial();
  }

  /** Closed by the app, or stopped by a refusal: nothing dials until `reconnect()`. */
  get #stopped(): boolean {
    return this.state.current.status === 'closed';
  }

  async #dial(probe = false): Promise<void> {
    if (!probe) this.#retryTimer = null;
    if (this.#stopped || this.#dialing || this.#preparing) return;
    this.#preparing = true;
    let params: ConnectionParams | null;
    let transport: Transport;
    let EventSource: EventSourceClass | null = null;
    try {
      const source = this.#settings.connectionParams;
      params = typeof source === 'function' ? await source() : (source ?? null);
      transport = probe || !this.#http ? 'websocket' : this.#http.chooser.next();
      if (transport === 'http') EventSource = await this.#http!.eventSource();
    } catch (error) {
      this.#preparing = false;
      if (probe) this.#http?.probe?.schedule();
      else this.#scheduleRetry(asError(error, 'connectionParams failed'));
      return;
    }
    this.#preparing = false;
    if (this.#stopped || this.#dialing) return;
    const url = this.#rotation(transport).next();
    if (!this.#current && this.state.current.status === 'connecting') this.state.set({ status: 'connecting', url });
    const handlers: SessionHandlers = {
      onReady: (session) => this.#onReady(session),
      onEvent: (session, callId, event) => this.#listener.onEvent(session, callId, event),
      onNotice: (session, notice) => this.#onNotice(session, notice),
      onProven: (session) => this.#onProven(session),
      onEnd: (session, end) => this.#onEnd(session, end),
    };
    const common: CommonSessionSettings = {
      connectionParams: params,
      pingIntervalMs: this.#settings.pingIntervalMs,
      pongTimeoutMs: this.#settings.pongTimeoutMs,
      connectTimeoutMs: this.#settings.connectTimeoutMs,
    };
    this.#dialingIsProbe = probe;
    this.#dialing = EventSource
      ? this.#http!.dial(url, common, EventSource, handlers)
      : new SocketSession(
          url,
          { ...common, WebSocket: this.#settings.WebSocket, maxCallsPerFrame: this.#settings.maxCallsPerFrame, msgpack: this.#settings.msgpack },
          handlers,
        );
  }

  #rotation(transport: Transport): UrlRotation {
    return transport === 'http' ? this.#http!.urls : this.#urls;
  }

  #onReady(session: Session): void {
    if (session !== this.#dialing) return;
    this.#dialing = null;
    this.#dialingIsProbe = false;
    this.#rotation(session.transport).markOpened();
    this.#http?.chooser.opened(session.transport);
    const previous = this.#current;
    this.#current = session;
    // The new session's server tells its own expiry; a refresh planned for the old one is moot.
    if (previous) this.#refresh.clear();
    this.state.set({ status: 'open', url: session.url, transport: session.transport });
    this.#listener.onSession(session);
    // Everything moved to the new session; the old one (after a reconnect notice or an upgrade) has nothing left to do.
    previous?.close(CLOSE_NORMAL, 'moved to a new connection');
    this.#http?.probe?.opened();
  }

  /** The server serves `session`: the backoff and the refusal count start over. */
  #onProven(session: Session): void {
    this.#proven.add(session);
    if (session !== this.#current) return;
    this.#attempt = 0;
    this.#refusalsInRow = 0;
  }

  #onNotice(session: Session, notice: ConnectionNotice): void {
    switch (notice.type) {
      case 'reconnect':
        // The server is draining: dial a replacement now, keep using this one until it is ready.
        if (session === this.#current && !this.#dialing) void this.#dial();
        break;
      case 'credentials':
        if (session === this.#current) this.#refresh.onNotice(session, notice);
        break;
      case 'unreadable':
        this.#settings.onError(notice.error);
        break;
    }
  }

  #onEnd(session: Session, end: SessionEnd): void {
    if (session === this.#dialing) {
      const wasProbe = this.#dialingIsProbe;
      this.#dialing = null;
      this.#dialingIsProbe = false;
      const serving = this.#current?.isReady ?? false;
      if (wasProbe && serving) {
        // The upgrade is still blocked: stay on HTTP, try again later.
        this.#http?.probe?.schedule();
        return;
      }
      this.#http?.chooser.failed(session.transport, end.refused);
      // A replacement failed while the old session still serves: retry quietly.
      this.#onFailure(end, !serving);
      return;
    }
    if (session !== this.#current) return;
    this.#current = null;
    this.#http?.probe?.clear();
    this.#refresh.clear();
    this.#listener.onSessionLost(session, this.#proven.has(session));
    this.#onFailure(end, true);
  }

  /** An attempt failed or a session was lost: stop on a repeated refusal, else retry after backoff. */
  #onFailure(end: SessionEnd, report: boolean): void {
    if (this.#stopped) return;
    const refusal = refusalOf(end);
    if (refusal && refusal.kind !== 'busy') {
      this.#refusalsInRow += 1;
      if (report && this.#refusalsInRow >= MAX_REFUSALS_IN_ROW) {
        this.#stop(end, refusal);
        return;
      }
    }
    this.#scheduleRetry(end.error, report, end, refusal?.retryAfterMs ?? null);
  }

  /** The server said no again: wait for the app's `reconnect()`, and let waiting calls fail. */
  #stop(end: SessionEnd, refusal: Refusal): void {
    this.#clearRetry();
    this.#http?.probe?.clear();
    const closeCode = end.httpStatus === null ? end.code : null;
    this.state.set({ status: 'closed', refusal: { closeCode, httpStatus: end.httpStatus, error: end.error } });
    // Whatever is left (a dial under way) ends quietly: the state says stopped.
    const current = this.#current;
    this.#current = null;
    if (current) this.#listener.onSessionLost(current, this.#proven.has(current));
    current?.close();
    this.#dialing?.close();
    this.#listener.refuse(
      refusalError(refusal.callError, `The server refused the connection (${end.error.message}); call client.reconnect() once that is fixed`, end.httpStatus),
    );
  }

  /**
   * Makes sure a dial is under way or scheduled (after backoff, and not
   * before the server's `Retry-After`), and (unless a working session
   * remains) says so.
   */
  #scheduleRetry(
    error: Error,
    report = true,
    end: Pick<SessionEnd, 'code' | 'httpStatus'> | null = null,
    retryAfterMs: number | null = null,
  ): void {
    if (this.#stopped) return;
    if (!this.#retryTimer && !this.#dialing && !this.#preparing) {
      this.#attempt += 1;
      const delayMs = Math.max(this.#settings.retryDelayMs(this.#attempt - 1), retryAfterMs ?? 0);
      this.#retryTimer = setTimeout(() => void this.#dial(), delayMs);
    }
    if (report) {
      this.state.set({
        status: 'reconnecting',
        attempt: Math.max(1, this.#attempt),
        error,
        closeCode: end?.code ?? null,
        ...(end?.httpStatus != null ? { httpStatus: end.httpStatus } : {}),
      });
    }
  }

  #clearRetry(): void {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}
