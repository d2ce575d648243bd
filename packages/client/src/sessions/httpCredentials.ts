import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { transformer } from '@herald/shared';
import { CONNECTION_PARAMS_HEADER, STREAM_TICKET_PARAM, STREAM_TICKET_PATH } from '@herald/shared/internal';
import type { EventSourceClass } from '../platform/types.js';
import { withQueryParam } from './urls.js';
import type { ConnectionParams } from './session.js';

/**
 * How an event stream carries its credentials over HTTP. Never in its URL:
 * proxies, access logs and browser history keep URLs.
 *
 * - `header`: in the `Herald-Connection-Params` header, through the `fetch`
 *   the EventSource is given (the `eventsource` package's option, which
 *   Herald's client uses in Node and which works in browsers too).
 * - `ticket`: the EventSource cannot send headers (the browser's own), so
 *   the credentials are first exchanged for a single-use, short-lived ticket
 *   (a POST carrying them in the header), and the URL carries only
 *   `?ticket=<ticket>`. Every connection of a stream gets a new ticket.
 */
export type StreamCredentials = 'header' | 'ticket';

/**
 * `ticket` for the runtime's own EventSource (`globalThis.EventSource`: the
 * browser's takes no headers and no `fetch`), `header` for any other class,
 * which is handed a `fetch` option as the `eventsource` package reads it.
 */
export function streamCredentialsFor(EventSource: EventSourceClass): StreamCredentials {
  return (globalThis as { EventSource?: unknown }).EventSource === EventSource ? 'ticket' : 'header';
}

/** The headers that carry `params` (none for null): percent-encoded JSON, so any string value fits a header. */
export function credentialHeaders(params: ConnectionParams | null): Record<string, string> {
  return params ? { [CONNECTION_PARAMS_HEADER]: encodeURIComponent(JSON.stringify(params)) } : {};
}

/**
 * Exchanges `params` for a stream ticket at `POST <httpUrl>/_herald/ticket`
 * and answers the stream URL that carries it. A refusal the server explains
 * (its tRPC error shape: `UNAUTHORIZED`...) is thrown as that
 * `TRPCClientError`, so the subscription ends with it as it would had the
 * stream itself been refused; anything else is a plain `Error` (the
 * network, a proxy), which ends the session.
 */
export async function ticketedStreamUrl(fetch: typeof globalThis.fetch, httpUrl: string, params: ConnectionParams): Promise<string> {
  const [base = '', query] = httpUrl.split('?');
  const ticketUrl = `${base.replace(/\/$/, '')}/${STREAM_TICKET_PATH}${query ? `?${query}` : ''}`;
  const response = await fetch(ticketUrl, { method: 'POST', cache: 'no-store', headers: credentialHeaders(params) });
  const body = (await response.json().catch(() => null)) as { ticket?: unknown; error?: unknown } | null;
  if (response.ok && typeof body?.ticket === 'string') return withQueryParam(httpUrl, STREAM_TICKET_PARAM, body.ticket);
  if (body?.error !== undefined) {
    const shape = transformer.deserialize(body.error as never) as unknown;
    if (typeof shape === 'object' && shape !== null && 'message' in shape) throw TRPCClientError.from<AnyRouter>({ error: shape as never });
  }
  throw new Error(`POST ${ticketUrl} answered ${response.status} without a ticket`);
}
