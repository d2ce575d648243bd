import type { TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { ConnectionStateSource } from '../connection/connectionState.js';
import { callRequest, callResults, type StartCall } from './start.js';

/**
 * `client.link`: a terminating tRPC link over the calls `client.trpc` makes
 * (the request tracker, or the persistence around it), for other tRPC
 * clients and tools. Unlike tRPC's `wsLink` it sends a call the moment it is
 * made (no batching timer), keeps calls across reconnects, and cancels a
 * query or mutation on the server when the app stops waiting for it. A
 * subscription hears of the connection going down and back
 * (`onConnectionStateChange`), as with tRPC's own links.
 */
export function heraldLink<TRouter extends AnyRouter>(start: StartCall, states: ConnectionStateSource): TRPCLink<TRouter> {
  return () =>
    ({ op }) =>
      callResults(start, callRequest(op.type, op.path, op.input, op.context), op.signal, states);
}
