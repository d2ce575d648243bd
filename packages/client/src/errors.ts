import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import type { HeraldErrorCode } from '@herald/shared';
import { TRPC_CODE_OF } from '@herald/shared/internal';

/**
 * A client-side failure shaped like a server error, so apps read `data.code`
 * and `data.heraldCode` the same way; `extra` adds fields to `data` (the
 * `idempotencyKey` of an `OUTCOME_UNKNOWN` mutation).
 */
export function clientError(code: HeraldErrorCode, message: string, extra?: Readonly<Record<string, unknown>>): TRPCClientError<AnyRouter> {
  return TRPCClientError.from({
    error: { code: -32_000, message, data: { ...extra, code: TRPC_CODE_OF[code], heraldCode: code, httpStatus: 0 } },
  });
}

/**
 * A frame from the server that the client could not decode or revive, as
 * tRPC's `PARSE_ERROR` (no Herald code: the server did not say it). `what`
 * says what was wrong; `cause` is the decoder's own error, when it threw one.
 */
export function parseError(what: string, cause?: unknown): TRPCClientError<AnyRouter> {
  const detail = cause === undefined ? '' : `: ${asError(cause).message}`;
  return TRPCClientError.from({
    error: {
      code: TRPC_ERROR_CODES_BY_KEY.PARSE_ERROR,
      message: `Herald's client could not decode a frame from the server (${what}${detail})`,
      data: { code: 'PARSE_ERROR', httpStatus: 0 },
    },
  });
}

/**
 * The error calls get when the server's refusal stopped the client: its
 * Herald code when the catalogue has one, else its tRPC code alone, and the
 * HTTP status that refused the connection (0 when there was none).
 */
export function refusalError(
  code: { readonly heraldCode: HeraldErrorCode | null; readonly trpcCode: TRPC_ERROR_CODE_KEY },
  message: string,
  httpStatus: number | null,
): TRPCClientError<AnyRouter> {
  if (code.heraldCode !== null && httpStatus === null) return clientError(code.heraldCode, message);
  const data = { code: code.trpcCode, httpStatus: httpStatus ?? 0, ...(code.heraldCode !== null ? { heraldCode: code.heraldCode } : {}) };
  return TRPCClientError.from({ error: { code: TRPC_ERROR_CODES_BY_KEY[code.trpcCode], message, data } });
}

/** `error` if it is an Error, else an Error that names it (after `prefix`, when given). */
export function asError(error: unknown, prefix?: string): Error {
  if (error instanceof Error) return error;
  return new Error(prefix === undefined ? String(error) : `${prefix}: ${String(error)}`);
}
