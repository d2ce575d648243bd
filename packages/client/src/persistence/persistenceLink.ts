import type { Operation, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { DurableOutbox } from './durableOutbox.js';
import { positionNameOf, type StoredPositions } from './storedPositions.js';

/**
 * What a call may pass in tRPC's `context` to steer persistence:
 * `client.trpc.chat.send.mutate(input, { context: { outbox: false } })`,
 * `client.trpc.chat.onMessage.subscribe(input, { context: { position: 'room:lobby' }, onData })`.
 */
export interface PersistenceContext {
  /** `false`: this mutation bypasses the outbox (in memory only, as without persistence). */
  readonly outbox?: boolean;
  /** A subscription's position name (default: path and input), or `false` to store none. */
  readonly position?: string | false;
}

/**
 * Wraps the client's link: mutations go through the outbox, subscriptions
 * resume from their stored position (unless the input names one) and store
 * each tracked id they deliver; queries pass through.
 */
export function persistenceLink(inner: TRPCLink<AnyRouter>, outbox: DurableOutbox, positions: StoredPositions | null): TRPCLink<AnyRouter> {
  return (runtime) => {
    const innerOperation = inner(runtime);
    return ({ op, next }) => {
      const context = op.context as PersistenceContext;
      if (op.type === 'mutation' && context.outbox !== false) {
        return observable((observer) =>
          outbox.mutate(op.path, op.input, {
            next: (result) => observer.next({ result, context: op.context }),
            error: (error) => observer.error(error),
            complete: () => observer.complete(),
          }),
        );
      }
      if (op.type !== 'subscription' || !positions || context.position === false) return innerOperation({ op, next });
      const name = typeof context.position === 'string' ? context.position : positionNameOf(op.path, op.input);
      return observable((observer) => {
        let subscription: Unsubscribable | null = null;
        let stopped = false;
        void positions.ready.then(() => {
          if (stopped) return;
          subscription = innerOperation({ op: withPosition(op, positions.get(name)), next }).subscribe({
            next: (value) => {
              observer.next(value);
              const result = value.result as { type?: string; id?: unknown };
              if (result.type === 'data' && typeof result.id === 'string') positions.record(name, result.id);
            },
            error: (error) => observer.error(error),
            complete: () => observer.complete(),
          });
        });
        return () => {
          stopped = true;
          subscription?.unsubscribe();
        };
      });
    };
  };
}

/** `op` with `lastEventId` from storage, unless its input has one (or is not an object). */
function withPosition(op: Operation, stored: string | undefined): Operation {
  const input = op.input as { lastEventId?: unknown } | null | undefined;
  if (stored === undefined || typeof input !== 'object' || input === null || (input.lastEventId !== undefined && input.lastEventId !== null)) return op;
  return { ...op, input: { ...input, lastEventId: stored } };
}
