import { callTRPCProcedure, type AnyRouter } from '@trpc/server';
import type { Connection } from './connection.js';
import { preparedProceduresOf } from './preparedCall.js';
import type { Opening } from './ordering.js';
import type { NativeSubscription } from './subscriptions.js';
import type { ErrorContext } from './wire.js';

/**
 * A query, mutation or stepped subscription running on a connection;
 * aborting it cancels it. Its `AbortController` is made the first time
 * something reads it (the procedure reading `signal`, a subscription
 * listening for the end): most calls never do, and an `AbortController`
 * costs more than the rest of a small call's bookkeeping. One made after
 * the call was aborted is aborted at once.
 */
export class RunningCall {
  #controller: AbortController | null = null;
  #aborted = false;
  /** A subscription's place among those opening on its socket (ordering.ts): an abort settles it. */
  opening: Opening | null = null;

  constructor(readonly type: 'query' | 'mutation' | 'subscription') {}

  get controller(): AbortController {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort();
    }
    return this.#controller;
  }

  /** The call's signal, a real `AbortSignal` (made on first read). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#controller?.abort();
    this.opening?.settle();
  }
}

/** What a connection keeps per request id until it is answered or stopped. */
export type Call = RunningCall | NativeSubscription;

/** Returned instead of a result when the call was not run (the connection was refused, or the call cancelled first). */
export const SKIPPED = Symbol('skipped');

/** Cancels a running call (aborts its signal) or ends an open native subscription. */
export function stop(call: Call): void {
  if (call instanceof RunningCall) call.abort();
  else call.release();
}

/**
 * Runs a procedure once the connection is admitted, with its context;
 * SKIPPED when it was refused or `call` is cancelled. A procedure whose
 * shape `PreparedProcedures` covers runs its prepared
 * path (the same semantics, less work per call); anything else goes through
 * tRPC's `callTRPCProcedure`.
 */
export async function callProcedure<TRouter extends AnyRouter>(
  connection: Connection<TRouter>,
  call: RunningCall,
  context: ErrorContext,
  batchIndex: number,
): Promise<unknown> {
  // Decided already for every request but those sent before admission was: no wait then.
  if (!connection.admittedNow && !(await connection.admitted)) return SKIPPED;
  if (call.aborted) return SKIPPED;
  const router = connection.config.router;
  const path = context.path ?? '';
  const type = context.type as 'query' | 'mutation' | 'subscription';
  const prepared = preparedProceduresOf(router).get(path, type);
  if (prepared) return prepared.call(router, path, context.input, connection.ctx, call, batchIndex);
  return callTRPCProcedure({
    router,
    path,
    getRawInput: async () => context.input,
    ctx: connection.ctx,
    type,
    signal: call.signal,
    batchIndex,
  });
}
