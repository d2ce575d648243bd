import type { ConnectionParams } from './options.js';
import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { Transport } from '@herald/shared';

export type CallType = 'query' | 'mutation' | 'subscription';

/** What every session is dialed with, whatever its transport. */
export interface CommonSessionSettings {
  /** The credentials the dial resolved from the app's `connectionParams`. */
  readonly connectionParams: ConnectionParams | null;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly connectTimeoutMs: number;
}

/** A call as a session sends it: the tracker's call, with what every transport needs. */
export interface OutgoingCall {
  /** The tracker's id: unique per client, reused when the call moves to another session. */
  readonly id: number;
  readonly type: CallType;
  readonly path: string;
  /** The input as the app gave it (the HTTP links serialize it themselves). */
  readonly input: unknown;
  /** The input through the transformer, once (the WebSocket frame carries it). */
  readonly serializedInput: unknown;
  /** A subscription's resume position: the last tracked id it delivered. */
  readonly lastEventId: string | undefined;
  /** A mutation's idempotency key, the same on every session it is sent on. */
  readonly idempotencyKey: string | undefined;
}

/** What a session reports for one call, already decoded. */
export type CallEvent =
  | { readonly type: 'started' }
  | { readonly type: 'data'; readonly id?: string; readonly data: unknown }
  | { readonly type: 'stopped' }
  | { readonly type: 'error'; readonly error: TRPCClientError<AnyRouter> };

/**
 * One attempt at a link to the server, over one transport: a WebSocket
 * (`SocketSession`) or HTTP with Server-Sent Events (`HttpSession`). A
 * session never reconnects; `ReconnectingConnection` makes a new one, and
 * the `RequestTracker` moves the calls onto it.
 */
export interface Session {
  readonly transport: Transport;
  /** The WebSocket URL, or the HTTP endpoint (`http://host/trpc`). */
  readonly url: string;
  /** Ready to send, and not over. */
  readonly isReady: boolean;
  /** Sends `call`; false if the session cannot send (not ready, or over). */
  startCall(call: OutgoingCall): boolean;
  /** Stops a call started here (a subscription, or a query or mutation the app stopped waiting for). */
  stopCall(id: number): void;
  /**
   * Sends fresh `connectionParams` on the open session (an in-band refresh,
   * see `CredentialRefresh`); later requests use them.
   */
  refreshCredentials(params: ConnectionParams): void;
  /** Closes the session; `onEnd` follows. */
  close(code?: number, reason?: string): void;
}

export interface SessionEnd {
  readonly wasReady: boolean;
  readonly code: number | null;
  readonly error: Error;
  /**
   * The WebSocket upgrade was answered with a plain HTTP response (a proxy
   * that refuses upgrades, say): an `auto` client falls back to HTTP at once.
   * Only `ws` (Node) can tell; browsers hide the response.
   */
  readonly refused: boolean;
  /**
   * The HTTP status that answered the attempt instead of opening it: the
   * upgrade's answer (Node only; browsers hide it), or the HTTP transport's
   * probe. Null when there was none, or the platform cannot see it.
   */
  readonly httpStatus: number | null;
  /** The server's `Retry-After` with such an answer, in ms, when the platform exposes it. */
  readonly retryAfterMs: number | null;
  /**
   * The error the server sent for the connection as a whole (a frame with
   * `id: null`) before it closed: why it refused the credentials or failed
   * to set the connection up.
   */
  readonly serverError: ConnectionError | null;
}

/** An error the server sent about the connection rather than a call. */
export interface ConnectionError {
  /** The tRPC code (`UNAUTHORIZED`, `INTERNAL_SERVER_ERROR`...), when the frame names one. */
  readonly code: string | null;
  readonly message: string;
}

/** The HTTP answer that refused a WebSocket upgrade, as a platform's WebSocket class may expose it. */
export interface RefusedUpgrade {
  readonly status: number;
  /** `Retry-After` in ms, when the answer carried one in seconds. */
  readonly retryAfterMs: number | null;
}

export interface SessionHandlers {
  /** The session is up: requests may be sent. */
  onReady(session: Session): void;
  /** A decoded WebSocket frame other than `PING`/`PONG`. */
  onMessage(session: Session, message: unknown): void;
  /** An event of one call, decoded by the session (HTTP). */
  onEvent(session: Session, callId: number, event: CallEvent): void;
  /**
   * The server answered on the session (a call's answer, a heartbeat; for
   * HTTP, the probe that opened it): it accepted the connection and serves
   * it. A connection the server closes right after opening never gets here.
   * Called at most once.
   */
  onProven(session: Session): void;
  /** The session is over (closed, failed to open, or declared dead); called once. */
  onEnd(session: Session, end: SessionEnd): void;
}
