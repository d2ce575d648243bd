import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { HeraldErrorCode, Transport } from '@herald/shared';

/** What `connectionParams` carries: string values by name, read by the server's `authenticate` and `createContext`. */
export type ConnectionParams = Record<string, string>;

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
  /** The input through the transformer, as JSON text made once (the WebSocket frame carries it); undefined when there is none to write. */
  readonly inputJson: string | undefined;
  /** A subscription's resume position: the last tracked id it delivered. */
  readonly lastEventId: string | undefined;
  /** A mutation's idempotency key, the same on every session it is sent on. */
  readonly idempotencyKey: string | undefined;
  /** The trace context of its span (the `tracing` option), sent as `params.trace` (WebSocket) or request headers (HTTP); undefined without one. */
  readonly trace?: Readonly<Record<string, string>> | undefined;
}

/**
 * What a session reports for one call, already decoded: the tracker reads
 * these and never a wire format. `unreadable`: a frame for the call that the
 * session could not decode or revive (`error` is a `PARSE_ERROR` saying
 * what was wrong); the call fails with it, and when no call has that id the
 * client reports it through `onError`.
 */
export type CallEvent =
  | { readonly type: 'started' }
  | { readonly type: 'data'; readonly id?: string; readonly data: unknown }
  | { readonly type: 'stopped' }
  | { readonly type: 'error'; readonly error: TRPCClientError<AnyRouter> }
  | { readonly type: 'unreadable'; readonly error: TRPCClientError<AnyRouter> };

/**
 * What a session reports about the connection rather than a call, decoded.
 * - `reconnect`: the server is draining and asks for a new connection
 *   (tRPC's notice); the connection dials one make-before-break.
 * - `credentials`: how long the server still trusts the credentials
 *   (Herald's session notice over WebSocket, a header of the heartbeat over
 *   HTTP), or why it refused refreshed ones.
 * - `unreadable`: a frame that belongs to no call and could not be decoded
 *   (not JSON, no usable id, a malformed notice or connection error); the
 *   client reports it through `onError` and goes on.
 */
export type ConnectionNotice =
  | { readonly type: 'reconnect' }
  | { readonly type: 'credentials'; readonly expiresInMs: number | null; readonly refused: CredentialsRefused | null }
  | { readonly type: 'unreadable'; readonly error: TRPCClientError<AnyRouter> };

/** Why the server refused refreshed credentials (the old expiry stands). */
export interface CredentialsRefused {
  readonly heraldCode: HeraldErrorCode;
  readonly message: string;
}

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

export interface SessionHandlers {
  /** The session is up: requests may be sent. */
  onReady(session: Session): void;
  /** An event of one call, decoded by the session. */
  onEvent(session: Session, callId: number, event: CallEvent): void;
  /** A notice about the connection, decoded by the session. */
  onNotice(session: Session, notice: ConnectionNotice): void;
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
