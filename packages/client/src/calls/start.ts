import type { OperationResultEnvelope, TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable, type Observable } from '@trpc/server/observable';
import type { ConnectionStateSource } from '../connection/connectionState.js';
import type { CallObserver, CallRequest } from './requestTracker.js';
import { followConnection } from './subscriptionStates.js';

/** Starts a call and reports it to `observer`; returns the function that cancels it: the request tracker's `start`, or the persistence's around it. */
export type StartCall = (call: CallRequest, observer: CallObserver) => () => void;

/** The context of a query or mutation made without one: shared, since the app never sees it (a subscription's goes to `onStarted`, so each gets its own). */
const NO_CONTEXT: Readonly<Record<string, unknown>> = Object.freeze({});

/**
 * The request for a call: a subscription resumes from the `lastEventId` its
 * input names; a mutation is sent with the `idempotencyKey` its context
 * names, if any (a retry of one that failed with `OUTCOME_UNKNOWN` passes
 * that error's `data.idempotencyKey`), else the tracker makes one.
 */
export function callRequest(type: CallRequest['type'], path: string, input: unknown, context: CallRequest['context']): CallRequest {
  const lastEventId = type === 'subscription' ? (input as { lastEventId?: unknown } | null | undefined)?.lastEventId : undefined;
  const key = type === 'mutation' ? context?.['idempotencyKey'] : undefined;
  return {
    type,
    path,
    input,
    lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined,
    idempotencyKey: typeof key === 'string' ? key : undefined,
    context: context ?? (type === 'subscription' ? {} : NO_CONTEXT),
  };
}

/**
 * A call's results as tRPC's links give them: started by subscribing,
 * cancelled by unsubscribing before it ended, and completed (after a cancel)
 * when `signal` aborts. A subscription's also carry the connection's
 * states (`followConnection`), as tRPC's `{ type: 'state' }` results.
 */
export function callResults(
  start: StartCall,
  call: CallRequest,
  signal: AbortSignal | null | undefined,
  states: ConnectionStateSource,
): Observable<OperationResultEnvelope<unknown, TRPCClientError<AnyRouter>>, TRPCClientError<AnyRouter>> {
  return observable((observer) => {
    let done = false;
    const unfollow = call.type === 'subscription' ? followConnection(states, (result) => observer.next({ result, context: call.context })) : null;
    const cancel = start(call, {
      next: (result) => observer.next({ result, context: call.context }),
      error: (error) => {
        done = true;
        unfollow?.();
        observer.error(error);
      },
      complete: () => {
        done = true;
        unfollow?.();
        observer.complete();
      },
    });
    const onAbort = () => {
      cancel();
      observer.complete();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    return () => {
      unfollow?.();
      signal?.removeEventListener('abort', onAbort);
      if (!done) cancel();
    };
  });
}
