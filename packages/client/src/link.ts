import type { TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import type { RequestTracker } from './requestTracker.js';

/**
 * A terminating tRPC link over Herald's request tracker. Unlike tRPC's
 * `wsLink` it sends a call the moment it is made (no batching timer), keeps
 * calls across reconnects, and cancels a query or mutation on the server
 * when the app stops waiting for it.
 */
export function heraldLink<TRouter extends AnyRouter>(tracker: Pick<RequestTracker, 'start'>): TRPCLink<TRouter> {
  return () =>
    ({ op }) =>
      observable((observer) => {
        const input = op.input as { lastEventId?: unknown } | undefined;
        const lastEventId = op.type === 'subscription' && typeof input?.lastEventId === 'string' ? input.lastEventId : undefined;
        let done = false;
        const cancel = tracker.start(
          { type: op.type, path: op.path, input: op.input, lastEventId },
          {
            next: (result) => observer.next({ result, context: op.context }),
            error: (error) => {
              done = true;
              observer.error(error);
            },
            complete: () => {
              done = true;
              observer.complete();
            },
          },
        );
        const onAbort = () => {
          cancel();
          observer.complete();
        };
        op.signal?.addEventListener('abort', onAbort, { once: true });
        return () => {
          op.signal?.removeEventListener('abort', onAbort);
          if (!done) cancel();
        };
      });
}
