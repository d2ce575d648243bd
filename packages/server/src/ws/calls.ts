import { callTRPCProcedure, type AnyRouter } from '@trpc/server';
import type { Connection } from './connection.js';
import type { NativeSubscription } from './subscriptions.js';
import type { ErrorContext } from './wire.js';

/** A query, mutation or stepped subscription running on a connection; aborting its signal cancels it. */
export interface RunningCall {
  readonly controller: AbortController;
  readonly type: 'query' | 'mutation' | 'subscription';
}

/** What a connection keeps per request id until it is answered or stopped. */
export type Call = RunningCall | NativeSubscription;

/** Returned instead of a result when the call was not run (the connection was refused, or the call cancelled first). */
export const SKIPPED = Symbol('skipped');

/** Cancels a running call (aborts its signal) or ends an open native subscription. */
export function stop(call: Call): void {
  if ('release' in call) call.release();
  else call.controller.abort();
}

/** Runs a procedure once the connection is admitted, with its context; SKIPPED when it was refused or `call` is cancelled. */
export async function callProcedure<TRouter extends AnyRouter>(
  connection: Connection<TRouter>,
  call: RunningCall,
  context: ErrorContext,
  batchIndex: number,
): Promise<unknown> {
  const admitted = await connection.admitted;
  if (!admitted || call.controller.signal.aborted) return SKIPPED;
  return callTRPCProcedure({
    router: connection.config.router,
    path: context.path ?? '',
    getRawInput: async () => context.input,
    ctx: connection.ctx,
    type: context.type as 'query' | 'mutation' | 'subscription',
    signal: call.controller.signal,
    batchIndex,
  });
}
