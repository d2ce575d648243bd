/**
 * Herald's error catalogue. Each code is stable (safe to switch on) and maps to
 * the tRPC code a client sees; the Herald code rides along in `error.data.heraldCode`.
 */
export const HeraldErrorCode = {
  /** A published message failed its channel's schema; nothing was stored or delivered. */
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  /** A channel key failed its schema. */
  INVALID_KEY: 'INVALID_KEY',
  /**
   * The broker could not be reached, refused the write (out of memory,
   * read-only) or did not answer in time. A publish that failed this way
   * was not stored, unless its message says it may have been (a timeout).
   * A mutation with an idempotency key that fails with it has no known
   * outcome and nothing stored for its key: retry it with the same key,
   * which runs it once and never stores its messages twice.
   */
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  /** No credentials, or credentials that were refused. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /**
   * The connection's credentials expired: the request did not run. Herald's
   * client refreshes them in-band before this happens; other clients
   * reconnect with fresh `connectionParams`.
   */
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** Authenticated, but not allowed to do this. */
  FORBIDDEN: 'FORBIDDEN',
  /** A configured limit was hit. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** The server is shutting down; retry on another node or after reconnecting. */
  SERVER_CLOSING: 'SERVER_CLOSING',
  /**
   * An idempotency key came again with another procedure or input than the
   * call it was first used for: nothing ran. Use a new key for each distinct
   * mutation; resend the same key only with the same input.
   */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /**
   * Client: the call waited for a connection longer than
   * `offlineQueue.maxAgeMs` and was never written to a socket: it did not
   * run. Retry it once the connection is `open`.
   */
  OFFLINE_TIMEOUT: 'OFFLINE_TIMEOUT',
  /**
   * Client: the call was sent and no answer came, within `callTimeoutMs` of
   * its first send or `offlineQueue.maxAgeMs` of waiting for a connection
   * after its socket was lost. A mutation may or may not have run: retry it
   * with the same idempotency key (pass `context: { idempotencyKey }`; the
   * outbox does so itself), and a Herald server runs it at most once and
   * answers with the first outcome. A query can simply be retried.
   */
  OUTCOME_UNKNOWN: 'OUTCOME_UNKNOWN',
  /** Client: `offlineQueue.maxSize` calls were already waiting; this one was not sent. */
  OFFLINE_QUEUE_FULL: 'OFFLINE_QUEUE_FULL',
  /** Client: the socket dropped while a mutation was in flight and `retryMutations` is off; it may or may not have run. */
  CONNECTION_LOST: 'CONNECTION_LOST',
  /** Client: the client was closed; the call was not sent or its answer was dropped. */
  CLIENT_CLOSED: 'CLIENT_CLOSED',
  /**
   * Client: an outbox entry (`persistence`) is older than the outbox's
   * `maxAgeMs`, past which the server may have forgotten its idempotency key;
   * it was not sent again, and may or may not have run. Check the app's data,
   * then `outbox.retry(key)` (a new key) or `outbox.discard(key)`.
   */
  OUTBOX_EXPIRED: 'OUTBOX_EXPIRED',
  /**
   * Client: the server refused the frame that carried this call for its size
   * (it closed the WebSocket with 1009, over its `limits.maxPayloadBytes`).
   * The call did not run and is not sent again: the same frame would be
   * refused again. Send less (split it, or upload the bulk another way).
   */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
} as const;
export type HeraldErrorCode = (typeof HeraldErrorCode)[keyof typeof HeraldErrorCode];

/** The tRPC error code each Herald code is reported as. */
export const TRPC_CODE_OF = {
  INVALID_MESSAGE: 'BAD_REQUEST',
  INVALID_KEY: 'BAD_REQUEST',
  BROKER_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  TOKEN_EXPIRED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  LIMIT_EXCEEDED: 'TOO_MANY_REQUESTS',
  SERVER_CLOSING: 'SERVICE_UNAVAILABLE',
  IDEMPOTENCY_KEY_REUSED: 'CONFLICT',
  OFFLINE_TIMEOUT: 'TIMEOUT',
  OUTCOME_UNKNOWN: 'TIMEOUT',
  OFFLINE_QUEUE_FULL: 'TOO_MANY_REQUESTS',
  CONNECTION_LOST: 'CLIENT_CLOSED_REQUEST',
  CLIENT_CLOSED: 'CLIENT_CLOSED_REQUEST',
  OUTBOX_EXPIRED: 'TIMEOUT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
} as const satisfies Record<HeraldErrorCode, string>;

/** Reads the Herald code out of a tRPC client error's `data`, if there is one. */
export function heraldCodeOf(error: unknown): HeraldErrorCode | null {
  if (typeof error !== 'object' || error === null) return null;
  const data = (error as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return null;
  const code = (data as { heraldCode?: unknown }).heraldCode;
  return typeof code === 'string' && code in HeraldErrorCode ? (code as HeraldErrorCode) : null;
}
