import { TRPCError } from '@trpc/server';
import { parseConnectionParamsFromString } from '@trpc/server/http';
import { CONNECTION_PARAMS_HEADER } from '@herald/shared/internal';
import { stringParams, type ConnectionParams } from '../transport/admission.js';
import type { RequestHead } from '../transport/requestHead.js';

/**
 * What `createContext` gets over HTTP, from the first of:
 *
 * 1. the `Herald-Connection-Params` header (percent-encoded JSON), which
 *    Herald's client sends on every request: all `connectionParams`, and
 *    none of them in a URL;
 * 2. `fromUrl`, the `?connectionParams=` of an event stream (tRPC's
 *    `httpSubscriptionLink` protocol, kept for stock tRPC clients);
 * 3. `{ token }` from `Authorization: Bearer <token>`;
 *
 * else null. A header that does not parse is refused (`PARSE_ERROR`).
 */
export function connectionParamsOf(
  req: RequestHead,
  fromUrl: Readonly<Record<string, string | undefined>> | null,
): ConnectionParams | null {
  const header = req.headers[CONNECTION_PARAMS_HEADER];
  if (typeof header === 'string') return headerConnectionParams(header);
  if (fromUrl) return stringParams(fromUrl);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1] ? { token: match[1] } : null;
}

function headerConnectionParams(value: string): ConnectionParams | null {
  let json: string;
  try {
    json = decodeURIComponent(value);
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: `The ${CONNECTION_PARAMS_HEADER} header is not percent-encoded JSON`, cause });
  }
  return stringParams(parseConnectionParamsFromString(json));
}

/** The `?connectionParams=` of a URL (tRPC's `httpSubscriptionLink`), or null when it has none that parses. */
export function queryConnectionParams(url: URL): Record<string, string | undefined> | null {
  const raw = url.searchParams.get('connectionParams');
  if (raw === null) return null;
  try {
    return parseConnectionParamsFromString(raw);
  } catch {
    return null;
  }
}
