import type { ConnectionParams, HeraldClientOptions } from './options.js';
import { ConnectionStateMachine } from './connectionState.js';
import { SocketSession, type SessionEnd, type SessionSettings } from './socketSession.js';
import { UrlRotation } from './urlRotation.js';

export interface ConnectionListener {
  /** `session` is ready; everything waiting should go out on it (a reconnect, or a move). */
  onSession(session: SocketSession): void;
  /** `session` ended; what was in flight on it must wait for the next one. */
  onSessionLost(session: SocketSession): void;
  onMessage(session: SocketSession, message: unknown): void;
}

export interface ConnectionSettings extends Omit<SessionSettings, 'connectionParams'> {
  readonly urls: readonly string[];
  readonly connectionParams: HeraldClientOptions['connectionParams'];
  readonly retryDelayMs: (attempt: number) => number;
}

/**
 * Keeps one usable socket: dials, redials with backoff after a loss, follows
 * the server's `reconnect` notice (make the new socket, move everything to
 * it, then close the old one), and owns the connection state.
 *
 * ```
 *  connecting ──ready──▶ open ──lost──▶ reconnecting ──ready──▶ open
 *      │                  │  ▲               │ ▲
 *      └──failed──────────┼──┼──▶ reconnecting (attempt n+1, after backoff)
 *                         └─reconnect notice: open stays open while the new socket dials
 *  close() from any state ──▶ closed
 * ```
 */
export class ReconnectingConnection {
  readonly state = new ConnectionStateMachine();
  private current: SocketSession | null = null;
  /** A socket dialing to replace `current` (after a loss, or on the server's notice). */
  private dialing: SocketSession | null = null;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly urls: UrlRotation;

  constructor(
    private readonly settings: ConnectionSettings,
    private readonly listener: ConnectionListener,
  ) {
    this.urls = new UrlRotation(settings.urls);
  }

  /** The ready socket, if there is one. */
  get session(): SocketSession | null {
    return this.current?.isReady ? this.current : null;
  }

  start(): void {
    void this.dial();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.state.set({ status: 'closed' });
    this.dialing?.close();
    this.current?.close();
  }

  private async dial(): Promise<void> {
    this.retryTimer = null;
    if (this.closed || this.dialing) return;
    let params: ConnectionParams | null;
    try {
      const source = this.settings.connectionParams;
      params = typeof source === 'function' ? await source() : (source ?? null);
    } catch (error) {
      this.scheduleRetry(asError(error, 'connectionParams failed'));
      return;
    }
    if (this.closed) return;
    const url = this.urls.next();
    if (!this.current && this.state.current.status === 'connecting') this.state.set({ status: 'connecting', url });
    this.dialing = new SocketSession(url, { ...this.settings, connectionParams: params }, {
      onReady: (session) => this.onReady(session),
      onMessage: (session, message) => this.onMessage(session, message),
      onEnd: (session, end) => this.onEnd(session, end),
    });
  }

  private onReady(session: SocketSession): void {
    if (session !== this.dialing) return;
    this.dialing = null;
    this.urls.markOpened();
    const previous = this.current;
    this.current = session;
    this.attempt = 0;
    this.state.set({ status: 'open', url: session.url });
    this.listener.onSession(session);
    // Everything moved to the new socket; the old one (after a reconnect notice) has nothing left to do.
    previous?.close(1000, 'moved to a new connection');
  }

  private onMessage(session: SocketSession, message: unknown): void {
    if (isReconnectNotice(message)) {
      // The server is draining: dial a replacement now, keep using this one until it is ready.
      if (session === this.current && !this.dialing) void this.dial();
      return;
    }
    this.listener.onMessage(session, message);
  }

  private onEnd(session: SocketSession, end: SessionEnd): void {
    if (session === this.dialing) {
      this.dialing = null;
      // A replacement failed while the old socket still serves: retry quietly.
      if (this.current?.isReady) this.scheduleRetry(end.error, false);
      else this.scheduleRetry(end.error);
      return;
    }
    if (session !== this.current) return;
    this.current = null;
    this.listener.onSessionLost(session);
    this.scheduleRetry(end.error);
  }

  /** Makes sure a dial is under way or scheduled, and (unless a working socket remains) says so. */
  private scheduleRetry(error: Error, report = true): void {
    if (this.closed) return;
    if (!this.retryTimer && !this.dialing) {
      this.attempt += 1;
      this.retryTimer = setTimeout(() => void this.dial(), this.settings.retryDelayMs(this.attempt - 1));
    }
    if (report) this.state.set({ status: 'reconnecting', attempt: Math.max(1, this.attempt), error });
  }
}

function isReconnectNotice(message: unknown): boolean {
  return typeof message === 'object' && message !== null && (message as { method?: unknown }).method === 'reconnect';
}

function asError(error: unknown, fallback: string): Error {
  return error instanceof Error ? error : new Error(`${fallback}: ${String(error)}`);
}
