import { transformer } from '@herald/shared';

/** A result of a tRPC response frame, its data through Herald's transformer. */
export interface DecodedResult {
  readonly type?: string;
  readonly id?: unknown;
  readonly data?: unknown;
}

/** An error frame with its error shape through Herald's transformer: what `TRPCClientError.from` takes. */
export interface DecodedError {
  readonly error: { readonly code: number; readonly message?: unknown; readonly data?: unknown };
}

/**
 * Decodes one response frame of tRPC's WebSocket protocol (`{ id, result }`
 * or `{ id, error }`) with Herald's transformer, as tRPC's `wsLink` does.
 * Throws when the frame is neither a result nor an error with a numeric code.
 */
export function decodeResponse(
  frame: { readonly error?: unknown; readonly result?: unknown },
): { readonly ok: true; readonly result: DecodedResult } | { readonly ok: false; readonly error: DecodedError } {
  if ('error' in frame) {
    const error = transformer.deserialize(frame.error as never) as DecodedError['error'] | null;
    if (!isObject(error) || typeof error.code !== 'number') throw new TypeError('Unable to transform response from server');
    return { ok: false, error: { ...frame, error } };
  }
  const result = frame.result as DecodedResult;
  if (!isObject(result)) throw new TypeError('Unable to transform response from server');
  // `started` and `stopped` carry no data; a result without a type is data.
  return { ok: true, result: !result.type || result.type === 'data' ? { ...result, type: 'data', data: transformer.deserialize(result.data as never) } : result };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
