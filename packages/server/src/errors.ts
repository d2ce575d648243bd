import { TRPCError } from '@trpc/server';
import type { HeraldErrorCode } from '@herald/shared';
import { TRPC_CODE_OF } from '@herald/shared/internal';

/**
 * A TRPCError that also carries a stable Herald code. Thrown from channels,
 * brokers and auth; `heraldErrorFormatter` puts the code in `error.data` so
 * clients can switch on it.
 */
export class HeraldError extends TRPCError {
  /** The stable Herald code (`heraldCode` in the error's `data` on the wire); `code` is the tRPC code it maps to. */
  readonly heraldCode: HeraldErrorCode;

  constructor(code: HeraldErrorCode, message: string, options: { cause?: unknown } = {}) {
    super({ code: TRPC_CODE_OF[code], message, cause: options.cause });
    this.name = 'HeraldError';
    this.heraldCode = code;
  }
}

interface FormatterInput {
  shape: { data: object };
  error: TRPCError;
}

/**
 * Pass as `errorFormatter` to `initTRPC.create()`: adds `heraldCode` for
 * Herald errors and `zodIssues` for input validation failures, so a client gets
 * something it can act on without parsing messages. An input validation
 * failure's `message` is one line per issue, `path: message` (zod's own is
 * its issues as JSON); the issues themselves stay in `data.zodIssues`.
 */
export function heraldErrorFormatter<TShape extends FormatterInput['shape']>(opts: {
  shape: TShape;
  error: TRPCError;
}): TShape & { data: TShape['data'] & { heraldCode: HeraldErrorCode | null; zodIssues: ZodIssueLike[] | null } } {
  const { shape, error } = opts;
  const heraldCode = error instanceof HeraldError ? error.heraldCode : null;
  const zodIssues = zodIssuesOf(error.cause);
  const readable = zodIssues && zodIssues.length > 0 && error.code === 'BAD_REQUEST' ? { message: zodIssues.map(issueLine).join('\n') } : {};
  return { ...shape, ...readable, data: { ...shape.data, heraldCode, zodIssues } };
}

/** One issue as a line: where (`items.0.name`, or `input` for the whole input), then zod's message. */
function issueLine(issue: ZodIssueLike): string {
  const where = issue.path.length === 0 ? 'input' : issue.path.map(String).join('.');
  return `${where}: ${issue.message}`;
}

/** The parts of a zod issue a client needs; zod's own type is kept off the wire types. */
export interface ZodIssueLike {
  /** zod's issue code (`too_small`, `invalid_type`...). */
  readonly code: string;
  /** Where in the input the issue is (`['room']`). */
  readonly path: readonly PropertyKey[];
  /** zod's message for it. */
  readonly message: string;
}

function zodIssuesOf(cause: unknown): ZodIssueLike[] | null {
  if (typeof cause !== 'object' || cause === null) return null;
  const issues = (cause as { issues?: unknown }).issues;
  if (!Array.isArray(issues)) return null;
  return issues.map((issue: ZodIssueLike) => ({
    code: String(issue.code),
    path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: issue.message,
  }));
}

/** Why a connection or a request was turned away; the `reason` label of `herald_refusals_total`. */
export const RefusalReason = {
  /** The upgrade's `Origin` is not in `allowedOrigins` (HTTP 403). */
  ORIGIN: 'origin',
  /** The server is draining or closed (HTTP 503). */
  DRAINING: 'draining',
  /** `limits.maxConnections` (HTTP 503). */
  MAX_CONNECTIONS: 'max_connections',
  /** `limits.maxConnectionsPerIp` (HTTP 429). */
  MAX_CONNECTIONS_PER_IP: 'max_connections_per_ip',
  /** `limits.maxConnectionsPerUser` (close 4003). */
  MAX_CONNECTIONS_PER_USER: 'max_connections_per_user',
  /** `limits.rate` (a `LIMIT_EXCEEDED` answer). */
  RATE: 'rate',
  /** `limits.maxHttpCallsPerIp`: an HTTP request while its address has that many calls in progress (`LIMIT_EXCEEDED`, HTTP 429). */
  MAX_HTTP_CALLS_PER_IP: 'max_http_calls_per_ip',
  /** `limits.maxHttpAnswerBytes`: an HTTP answer that would be larger is not built (`PAYLOAD_TOO_LARGE`, HTTP 413). */
  MAX_HTTP_ANSWER: 'max_http_answer',
  /** `limits.maxHttpAnswerBytesPerIp`: an HTTP request while its address's answers not yet taken are that large (`LIMIT_EXCEEDED`, HTTP 429). */
  MAX_HTTP_ANSWER_BYTES_PER_IP: 'max_http_answer_bytes_per_ip',
  /** An HTTP answer its client did not take within `limits.httpWriteTimeoutMs`, or an event stream whose client fell `maxBufferedBytes` behind: the connection is dropped. */
  SLOW_HTTP_CLIENT: 'slow_http_client',
  /** A caller past `idempotency.maxRecordsPerCaller` or `maxRecordBytesPerCaller` (a `LIMIT_EXCEEDED` answer; nothing runs). */
  IDEMPOTENCY_RECORDS: 'idempotency_records',
  /** An input over the decoding limits (depth, typed values, BigInt digits): a `BAD_REQUEST` answer. */
  INPUT_LIMITS: 'input_limits',
  /** `limits.maxSubscriptionsPerConnection` (a `LIMIT_EXCEEDED` answer). */
  MAX_SUBSCRIPTIONS: 'max_subscriptions',
  /** `limits.maxBatchSize` (a `LIMIT_EXCEEDED` answer). */
  MAX_BATCH_SIZE: 'max_batch_size',
  /** `limits.maxPayloadBytes` (close 1009). */
  MAX_PAYLOAD: 'max_payload',
  /** `authenticate` or `createContext` refused the credentials (close 4001). */
  UNAUTHORIZED: 'unauthorized',
  /** The credentials expired without a refresh (close 4005), or a request came after they expired. */
  TOKEN_EXPIRED: 'token_expired',
  /** An in-band refresh was refused (the connection keeps its old credentials until they expire). */
  REFRESH_REFUSED: 'refresh_refused',
  /** `server.disconnectUser` ended the connection (close 4006). */
  REVOKED: 'revoked',
  /** The address failed authentication too often (`auth.failedAttempts`; upgrades get HTTP 429). */
  AUTH_FAILURES: 'auth_failures',
  /** An event stream's ticket was unknown, expired or used already (`UNAUTHORIZED`; the address's failed authentications count it). */
  STREAM_TICKET: 'stream_ticket',
  /** `connectionParams` announced but not sent in time (close 4001). */
  CONNECTION_PARAMS_TIMEOUT: 'connection_params_timeout',
} as const;
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];

/**
 * How a WebSocket upgrade is turned away before a socket exists: the HTTP
 * status and the `error` of the JSON body. Browsers hide both from scripts
 * (they report close 1006); Node clients see them.
 */
export const UpgradeRefusal = {
  /** The upgrade asked for another path than the server's `path`. */
  NOT_FOUND: { status: 404, error: 'NOT_FOUND' },
  /** The server is draining or closed: connect to another node. */
  SERVER_CLOSING: { status: 503, error: 'SERVER_CLOSING' },
  /** The `Origin` is not in `allowedOrigins`. */
  FORBIDDEN_ORIGIN: { status: 403, error: 'FORBIDDEN_ORIGIN' },
  /** `limits.maxConnections` is reached. */
  MAX_CONNECTIONS: { status: 503, error: 'LIMIT_EXCEEDED' },
  /** `limits.maxConnectionsPerIp` is reached for the client's address. */
  MAX_CONNECTIONS_PER_IP: { status: 429, error: 'LIMIT_EXCEEDED' },
  /** The client's address failed authentication more often than `auth.failedAttempts` allows. */
  AUTH_FAILURES: { status: 429, error: 'TOO_MANY_AUTH_FAILURES' },
} as const;
export type UpgradeRefusal = (typeof UpgradeRefusal)[keyof typeof UpgradeRefusal];
