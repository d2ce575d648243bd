/**
 * Numbers both sides of the wire must agree on. Timing defaults live here so
 * the server's and the client's heartbeats are tuned as a pair.
 */

/** The HTTP path WebSocket connections upgrade on. */
export const WS_PATH = '/ws';

/** Server: quiet time on a socket before it sends `PING`. */
export const DEFAULT_SERVER_PING_INTERVAL_MS = 10_000;
/** Server: time to wait for any frame after a `PING` before dropping the peer. */
export const DEFAULT_SERVER_PONG_TIMEOUT_MS = 5_000;
/** Client: interval between its own `PING`s. */
export const DEFAULT_CLIENT_PING_INTERVAL_MS = 10_000;
/** Client: time to wait for `PONG` before it reconnects. */
export const DEFAULT_CLIENT_PONG_TIMEOUT_MS = 5_000;

/**
 * WebSocket close codes Herald sends (4000-4999 is the range RFC 6455 leaves
 * to applications). Clients treat every one of them as "reconnect later"
 * except `UNAUTHORIZED` and `FORBIDDEN_ORIGIN`, which a retry cannot fix.
 */
export const CloseCode = {
  /** Normal closure. */
  NORMAL: 1000,
  /** The server is shutting down or draining. */
  GOING_AWAY: 1001,
  /** A frame could not be understood. */
  PROTOCOL_ERROR: 1002,
  /** A frame was larger than the server accepts. */
  MESSAGE_TOO_BIG: 1009,
  /** The peer stopped answering heartbeats. */
  HEARTBEAT_TIMEOUT: 4000,
  /** The connection's credentials were refused. */
  UNAUTHORIZED: 4001,
  /** The peer stopped reading and its send buffer passed the bound. */
  SLOW_CONSUMER: 4002,
  /** A per-connection limit was hit (rate, subscriptions). */
  LIMIT_EXCEEDED: 4003,
  /** The request came from an origin not on the allow-list. */
  FORBIDDEN_ORIGIN: 4004,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
