import type { CallRequest } from '../calls/requestTracker.js';
import type { StartCall } from '../calls/start.js';
import type { DurableOutbox } from './durableOutbox.js';
import { positionNameOf, UNKNOWN_POSITION, type StoredPosition, type StoredPositions } from './storedPositions.js';

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
 * Wraps the client's calls: mutations go through the outbox, subscriptions
 * resume from their stored position (unless the input names one) and store
 * each tracked id they deliver; queries pass through. A stored position that
 * could not be read resumes from `UNKNOWN_POSITION`, which a Herald channel
 * answers with a `gap` (`unknown-position`) before going live.
 */
export function persistentCalls(start: StartCall, outbox: DurableOutbox, positions: StoredPositions | null): StartCall {
  return (call, observer) => {
    const context = (call.context ?? {}) as PersistenceContext;
    if (call.type === 'mutation' && context.outbox !== false) return outbox.mutate(call.path, call.input, observer);
    if (call.type !== 'subscription' || !positions || context.position === false) return start(call, observer);
    const name = typeof context.position === 'string' ? context.position : positionNameOf(call.path, call.input);
    let cancel: (() => void) | null = null;
    let stopped = false;
    void positions.ready.then(() => {
      if (stopped) return;
      cancel = start(withPosition(call, positions.lookup(name)), {
        next: (result) => {
          observer.next(result);
          if (result.type === 'data' && typeof result.id === 'string') positions.record(name, result.id);
        },
        error: (error) => observer.error(error),
        complete: () => observer.complete(),
      });
    });
    return () => {
      stopped = true;
      cancel?.();
    };
  };
}

/** `call` resuming from the stored position, unless its input names one (or is not an object). */
function withPosition(call: CallRequest, stored: StoredPosition): CallRequest {
  const input = call.input as { lastEventId?: unknown } | null | undefined;
  if (stored.type === 'none' || typeof input !== 'object' || input === null || (input.lastEventId !== undefined && input.lastEventId !== null)) return call;
  const position = stored.type === 'id' ? stored.id : UNKNOWN_POSITION;
  return { ...call, input: { ...input, lastEventId: position }, lastEventId: position };
}
