import type { HeraldErrorCode } from './errors.js';

/**
 * Numbers both sides of the wire must agree on. Timing defaults live here so
 * the server's and the client's heartbeats are tuned as a pair.
 */

/** The HTTP path WebSocket connections upgrade on. */
export const WS_PATH = '/ws';

/**
 * The HTTP path prefix the router is also served on (tRPC's HTTP protocol:
 * `/trpc/<procedure>`, subscriptions as Server-Sent Events), for networks
 * that strip WebSocket upgrades.
 */
export const HTTP_PATH = '/trpc';

/**
 * The request header that carries a mutation's idempotency key over HTTP
 * (over WebSocket it rides in `params.idempotencyKey`). Header names are
 * case-insensitive; Node lowercases them.
 */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/**
 * The request header Herald's client sends its `connectionParams` in over
 * HTTP (queries, mutations, event streams, stream-ticket requests): the
 * params as percent-encoded JSON, `encodeURIComponent(JSON.stringify(params))`,
 * so any string value fits a header. Credentials in a header stay out of
 * URLs, which proxies, access logs and browser history keep.
 */
export const CONNECTION_PARAMS_HEADER = 'herald-connection-params';

/**
 * The response header of the HTTP heartbeat (`HEAD <httpPath>` with the
 * `Herald-Connection-Params` header): milliseconds until the credentials it
 * carried expire, when they do. It is the HTTP side's session notice: Herald's
 * client refreshes ahead of it, as on a WebSocket, so an idle session's event
 * streams do not end with credentials that can no longer be refreshed.
 */
export const CREDENTIALS_EXPIRY_HEADER = 'herald-credentials-expire-in';

/**
 * Where, under the HTTP path, a client exchanges credentials for a stream
 * ticket (`POST <httpPath>/_herald/ticket` with the credentials in headers,
 * answered `{ ticket, expiresInMs }`), for EventSources that cannot send
 * headers. tRPC names procedures with dots; a `/` in a path is no
 * procedure's, and the server refuses a router that has one here.
 */
export const STREAM_TICKET_PATH = '_herald/ticket';

/** The query parameter an event stream's URL carries a stream ticket in (`?ticket=<ticket>`), and nothing else about the caller. */
export const STREAM_TICKET_PARAM = 'ticket';

/** Server: quiet time on a socket before it sends `PING`. */
export const DEFAULT_SERVER_PING_INTERVAL_MS = 10_000;
/** Server: time to wait for any frame after a `PING` before dropping the peer. */
export const DEFAULT_SERVER_PONG_TIMEOUT_MS = 5_000;
/** Client: interval between its own `PING`s. */
export const DEFAULT_CLIENT_PING_INTERVAL_MS = 10_000;
/** Client: time to wait for `PONG` before it reconnects. */
export const DEFAULT_CLIENT_PONG_TIMEOUT_MS = 5_000;

/**
 * WebSocket close codes Herald sends, or that a Herald peer sees (4000-4999
 * is the range RFC 6455 leaves to applications). Clients treat every one of
 * them as "reconnect later" except `UNAUTHORIZED` and `FORBIDDEN_ORIGIN`,
 * which a retry cannot fix.
 */
export const CloseCode = {
  /** Normal closure. */
  NORMAL: 1000,
  /** The server is shutting down or draining. */
  GOING_AWAY: 1001,
  /** A frame could not be understood (for example malformed `connectionParams`). */
  PROTOCOL_ERROR: 1002,
  /**
   * The socket ended without a close frame (network loss, a terminated
   * peer). Never sent on the wire: it is what the side left behind reports.
   */
  ABNORMAL_CLOSURE: 1006,
  /** A text frame was not valid UTF-8 (`ws` closes with it). */
  INVALID_PAYLOAD: 1007,
  /** A frame was larger than the server accepts (`limits.maxPayloadBytes`). */
  MESSAGE_TOO_BIG: 1009,
  /** The server failed to set the connection up (`createContext` threw something other than UNAUTHORIZED or FORBIDDEN). */
  INTERNAL_ERROR: 1011,
  /** The peer stopped answering heartbeats. */
  HEARTBEAT_TIMEOUT: 4000,
  /** The connection's credentials were refused. */
  UNAUTHORIZED: 4001,
  /** The peer stopped reading and its send buffer passed the bound. */
  SLOW_CONSUMER: 4002,
  /** A limit on the connection as a whole was hit (`maxConnectionsPerUser`). Per-request limits answer the request instead. */
  LIMIT_EXCEEDED: 4003,
  /**
   * Reserved for an origin not on the allow-list. Herald's server refuses
   * those at the upgrade with HTTP 403, before a WebSocket exists.
   */
  FORBIDDEN_ORIGIN: 4004,
  /**
   * The connection's credentials expired (their `expiresAt` plus the
   * server's `auth.expiryGraceMs` passed without an in-band refresh).
   * Reconnect with fresh `connectionParams`; subscriptions resume from their
   * last position.
   */
  TOKEN_EXPIRED: 4005,
  /** The server ended the user's sessions (`server.disconnectUser`). Reconnecting needs credentials the app still accepts. */
  REVOKED: 4006,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * The `CloseCode` values the client checks, as plain constants: a bundler
 * inlines these, while reading a member of `CloseCode` keeps the whole table
 * in a browser bundle. `satisfies` ties each to its member.
 */
export const CLOSE_NORMAL = 1000 satisfies typeof CloseCode.NORMAL;
export const CLOSE_UNAUTHORIZED = 4001 satisfies typeof CloseCode.UNAUTHORIZED;
export const CLOSE_FORBIDDEN_ORIGIN = 4004 satisfies typeof CloseCode.FORBIDDEN_ORIGIN;

/** The `method` of Herald's session notice. */
export const SESSION_NOTICE_METHOD = 'herald.session';

/**
 * Server to client, outside any request: how long the server still trusts
 * the connection's credentials, sent when they expire and after each
 * in-band refresh (fresh `connectionParams` on the open socket). A client
 * refreshes before `expiresInMs` runs out; it needs no clock in step with
 * the server's. `refused` says why a refresh failed (the old expiry stands).
 * Stock tRPC clients ignore it.
 */
export interface SessionNotice {
  readonly id: null;
  readonly method: typeof SESSION_NOTICE_METHOD;
  readonly params: {
    /** Milliseconds until the credentials expire (the server adds its grace before it closes), or null when they do not. */
    readonly expiresInMs: number | null;
    readonly refused?: { readonly heraldCode: HeraldErrorCode; readonly message: string };
  };
}
