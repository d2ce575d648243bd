import type { Transport } from '@herald/shared';
import type { EventSourceLike } from '@trpc/server/unstable-core-do-not-import';
import type { ConnectionParams, HeraldClientOptions } from './options.js';
import { ConnectionStateMachine } from './connectionState.js';
import { HttpSession } from './httpSession.js';
import type { CallEvent, Session, SessionEnd, SessionHandlers } from './session.js';
import { SocketSession } from './socketSession.js';
import { TransportChooser, type TransportMode } from './transportChooser.js';
import { UrlRotation } from './urlRotation.js';

export interface ConnectionListener {
  /** `session` is ready; everything waiting should go out on it (a reconnect, or a move). */
  onSession(session: Session): void;
  /** `session` ended; what was in flight on it must wait for the next one. */
  onSessionLost(session: Session): void;
  /** A decoded WebSocket frame. */
  onMessage(session: Session, message: unknown): void;
  /** A decoded event of one call (HTTP). */
  onEvent(session: Session, callId: number, event: CallEvent): void;
}

export interface ConnectionSettings {
  /** WebSocket URLs. */
  readonly urls: readonly string[];
  /** HTTP endpoints (`http://host/trpc`). */
  readonly httpUrls: readonly string[];
  readonly transport: TransportMode;
  /** `auto`: failed upgrades in a row before HTTP is tried. */
  readonly fallbackAfterFailures: number;
  /** `auto` on HTTP: how often a WebSocket upgrade is tried again. */
  readonly upgradeProbeIntervalMs: number;
  readonly connectionParams: HeraldClientOptions['connectionParams'];
  readonly retryDelayMs: (attempt: number) => number;
  readonly WebSocket: typeof globalThis.WebSocket;
  readonly EventSource: EventSourceLike.AnyConstructor;
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxCallsPerFrame: number;
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
 *  close() from any state ──▶ closed
 * ```
 *
 * With `transport: 'auto'` on HTTP, an upgrade probe dials a WebSocket every
 * `upgradeProbeIntervalMs`; when it opens, calls move to it exactly as on a
 * reconnect notice (subscriptions with their last tracked id), then the HTTP
 * session closes. A probe that fails changes nothing the app can see.
 */
export class ReconnectingConnection {
  readonly state = new ConnectionStateMachine();
  private current: Session | null = null;
  /** A session dialing to replace `current` (after a loss, on the server's notice, or as an upgrade probe). */
  private dialing: Session | null = null;
  /** `dialing` is an upgrade probe: its failure is quiet. */
  private dialingIsProbe = false;
  /** A dial waiting for `connectionParams`. */
  private preparing = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private probeTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly rotations: Record<Transport, UrlRotation>;
  private readonly chooser: TransportChooser;

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly listener: ConnectionListener,
  ) {
    this.chooser = new TransportChooser(settings.transport, settings.fallbackAfterFailures);
    this.rotations = {
      websocket: new UrlRotation(settings.urls),
      http: new UrlRotation(settings.httpUrls),
    };
  }

  /** The ready session, if there is one. */
  get session(): Session | null {
    return this.current?.isReady ? this.current : null;
  }

  start(): void {
    void this.dial();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.clearProbe();
    this.state.set({ status: 'closed' });
    this.dialing?.close();
    this.current?.close();
  }

  private async dial(probe = false): Promise<void> {
    if (!probe) this.retryTimer = null;
    if (this.closed || this.dialing || this.preparing) return;
    this.preparing = true;
    let params: ConnectionParams | null;
    try {
      const source = this.settings.connectionParams;
      params = typeof source === 'function' ? await source() : (source ?? null);
    } catch (error) {
      this.preparing = false;
      if (probe) this.scheduleProbe();
      else this.scheduleRetry(asError(error, 'connectionParams failed'));
      return;
    }
    this.preparing = false;
    if (this.closed || this.dialing) return;
    const transport: Transport = probe ? 'websocket' : this.chooser.next();
    const url = this.rotations[transport].next();
    if (!this.current && this.state.current.status === 'connecting') this.state.set({ status: 'connecting', url });
    const handlers: SessionHandlers = {
      onReady: (session) => this.onReady(session),
      onMessage: (session, message) => this.onMessage(session, message),
      onEvent: (session, callId, event) => this.listener.onEvent(session, callId, event),
      onEnd: (session, end) => this.onEnd(session, end),
    };
    const common = {
      connectionParams: params,
      pingIntervalMs: this.settings.pingIntervalMs,
      pongTimeoutMs: this.settings.pongTimeoutMs,
      connectTimeoutMs: this.settings.connectTimeoutMs,
    };
    this.dialingIsProbe = probe;
    this.dialing =
      transport === 'websocket'
        ? new SocketSession(url, { ...common, WebSocket: this.settings.WebSocket, maxCallsPerFrame: this.settings.maxCallsPerFrame }, handlers)
        : new HttpSession(url, { ...common, EventSource: this.settings.EventSource, fetch: this.settings.fetch }, handlers);
  }

  private onReady(session: Session): void {
    if (session !== this.dialing) return;
    this.dialing = null;
    this.dialingIsProbe = false;
    this.rotations[session.transport].markOpened();
    this.chooser.opened(session.transport);
    const previous = this.current;
    this.current = session;
    this.attempt = 0;
    this.state.set({ status: 'open', url: session.url, transport: session.transport });
    this.listener.onSession(session);
    // Everything moved to the new session; the old one (after a reconnect notice or an upgrade) has nothing left to do.
    previous?.close(1000, 'moved to a new connection');
    // Upgrades that failed without an answer may have met a server that was
    // down for a moment (a restart) rather than a proxy: try one again soon.
    this.scheduleProbe(this.chooser.upgradeRefused ? undefined : QUICK_PROBE_MS);
  }

  private onMessage(session: Session, message: unknown): void {
    if (isReconnectNotice(message)) {
      // The server is draining: dial a replacement now, keep using this one until it is ready.
      if (session === this.current && !this.dialing) void this.dial();
      return;
    }
    this.listener.onMessage(session, message);
  }

  private onEnd(session: Session, end: SessionEnd): void {
    if (session === this.dialing) {
      const wasProbe = this.dialingIsProbe;
      this.dialing = null;
      this.dialingIsProbe = false;
      const serving = this.current?.isReady ?? false;
      if (wasProbe && serving) {
        // The upgrade is still blocked: stay on HTTP, try again later.
        this.scheduleProbe();
        return;
      }
      this.chooser.failed(session.transport, end.refused);
      // A replacement failed while the old session still serves: retry quietly.
      this.scheduleRetry(end.error, !serving, end.code);
      return;
    }
    if (session !== this.current) return;
    this.current = null;
    this.clearProbe();
    this.listener.onSessionLost(session);
    this.scheduleRetry(end.error, true, end.code);
  }

  /** Makes sure a dial is under way or scheduled, and (unless a working session remains) says so. */
  private scheduleRetry(error: Error, report = true, closeCode: number | null = null): void {
    if (this.closed) return;
    if (!this.retryTimer && !this.dialing && !this.preparing) {
      this.attempt += 1;
      this.retryTimer = setTimeout(() => void this.dial(), this.settings.retryDelayMs(this.attempt - 1));
    }
    if (report) this.state.set({ status: 'reconnecting', attempt: Math.max(1, this.attempt), error, closeCode });
  }

  /** `auto` on HTTP: try the WebSocket again after a while. */
  private scheduleProbe(delayMs?: number): void {
    this.clearProbe();
    const current = this.current;
    if (this.closed || this.settings.transport !== 'auto' || current?.transport !== 'http' || !current.isReady) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      if (this.closed || this.current !== current || !current.isReady) return;
      if (this.dialing || this.preparing || this.retryTimer) {
        this.scheduleProbe();
        return;
      }
      void this.dial(true);
    }, Math.min(delayMs ?? Infinity, this.settings.upgradeProbeIntervalMs));
    (this.probeTimer as { unref?: () => void }).unref?.();
  }

  private clearProbe(): void {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }
}

/** The first upgrade probe after a fallback that no refusal explained. */
const QUICK_PROBE_MS = 1_000;

function isReconnectNotice(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { method?: unknown }).method === 'reconnect';
}

function asError(error: unknown, fallback: string): Error {
  return error instanceof Error ? error : new Error(`${fallback}: ${String(error)}`);
}
