import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { ConnectionStateSource } from '../connection/connectionState.js';

/**
 * A subscription's connection state as tRPC's subscriptions report it
 * (`onConnectionStateChange`; tRPC's `TRPCConnectionState`, which its main
 * entry does not export): down (`connecting`) or up (`pending`).
 */
export type SubscriptionConnectionState =
  | { readonly type: 'state'; readonly state: 'connecting'; readonly error: TRPCClientError<AnyRouter> | null }
  | { readonly type: 'state'; readonly state: 'pending'; readonly error: null };

/**
 * Reports the client's connection going down and coming back to one
 * subscription, as tRPC's own links do: `connecting` (with the error that
 * dropped it) once the connection is lost, `pending` once it is open again.
 * What TanStack Query's subscriptions and Herald's React hooks read to show
 * `reconnecting` (docs/react.md). Only changes after the call are reported.
 * Returns the function that stops following.
 */
export function followConnection(source: ConnectionStateSource, emit: (state: SubscriptionConnectionState) => void): () => void {
  let up = source.current.status === 'open';
  return source.subscribe((next) => {
    const open = next.status === 'open';
    if (open === up) return;
    up = open;
    if (open) emit({ type: 'state', state: 'pending', error: null });
    else emit({ type: 'state', state: 'connecting', error: next.status === 'reconnecting' && next.error ? TRPCClientError.from(next.error) : null });
  });
}
