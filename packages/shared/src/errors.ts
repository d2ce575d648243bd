/**
 * Herald's error catalogue. Each code is stable (safe to switch on) and maps to
 * the tRPC code a client sees; the Herald code rides along in `error.data.heraldCode`.
 */
export const HeraldErrorCode = {
  /** A published message failed its channel's schema; nothing was stored or delivered. */
  INVALID_MESSAGE: 'INVALID_MESSAGE',
  /** A channel key failed its schema. */
  INVALID_KEY: 'INVALID_KEY',
  /** The broker could not be reached; the publish did not happen. */
  BROKER_UNAVAILABLE: 'BROKER_UNAVAILABLE',
  /** No credentials, or credentials that were refused. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** Authenticated, but not allowed to do this. */
  FORBIDDEN: 'FORBIDDEN',
  /** A configured limit was hit. */
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  /** The server is shutting down; retry on another node or after reconnecting. */
  SERVER_CLOSING: 'SERVER_CLOSING',
} as const;
export type HeraldErrorCode = (typeof HeraldErrorCode)[keyof typeof HeraldErrorCode];

/** The tRPC error code each Herald code is reported as. */
export const TRPC_CODE_OF = {
  INVALID_MESSAGE: 'BAD_REQUEST',
  INVALID_KEY: 'BAD_REQUEST',
  BROKER_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  LIMIT_EXCEEDED: 'TOO_MANY_REQUESTS',
  SERVER_CLOSING: 'SERVICE_UNAVAILABLE',
} as const satisfies Record<HeraldErrorCode, string>;

/** Reads the Herald code out of a tRPC client error's `data`, if there is one. */
export function heraldCodeOf(error: unknown): HeraldErrorCode | null {
  if (typeof error !== 'object' || error === null) return null;
  const data = (error as { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return null;
  const code = (data as { heraldCode?: unknown }).heraldCode;
  return typeof code === 'string' && code in HeraldErrorCode ? (code as HeraldErrorCode) : null;
}
