import { getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { isObservable } from '@trpc/server/observable';
import { parseTRPCMessage } from '@trpc/server/rpc';
import { isAsyncIterable } from '@trpc/server/unstable-core-do-not-import';
import { HeraldError, RefusalReason } from '../errors.js';
import { idempotencyKeyFrom } from '../transport/idempotentCall.js';
import { callProcedure, RunningCall, SKIPPED, stop } from './calls.js';
import type { Connection } from './connection.js';
import { inputTransformerOf } from './plainJson.js';
import { subscribe } from './subscriptions.js';
import { envelopeOf, NULL_ENVELOPE, type Envelope, type ErrorContext } from './wire.js';

/**
 * One request of a frame (a frame may batch several): rate limit, parse,
 * `subscription.stop`, the per-connection checks, then the call itself; its
 * answer or error goes back under the request's id.
 */
export function dispatch<TRouter extends AnyRouter>(connection: Connection<TRouter>, raw: unknown, batchIndex: number): void {
  const { config } = connection;
  if (!isStop(raw) && !connection.takeRateToken()) {
    config.metrics.refusal(RefusalReason.RATE);
    const rate = config.limits.rate;
    connection.sendError(
      envelopeOfRequest(raw),
      new HeraldError('LIMIT_EXCEEDED', `Rate limit: at most ${rate?.perSecond} requests per second (bursts of ${rate?.burst}); retry after a pause`),
      UNKNOWN_CONTEXT,
    );
    return;
  }
  let message: ReturnType<typeof parseTRPCMessage>;
  try {
    message = parseTRPCMessage(raw, inputTransformerOf(config.router._def._config.transformer));
  } catch (cause) {
    connection.sendError(
      envelopeOfRequest(raw),
      new TRPCError({ code: 'BAD_REQUEST', message: `Malformed request: ${messageOf(cause)}`, cause }),
      UNKNOWN_CONTEXT,
    );
    return;
  }
  if (message.id === null) {
    connection.sendError(NULL_ENVELOPE, new TRPCError({ code: 'BAD_REQUEST', message: 'Requests need an `id`' }), UNKNOWN_CONTEXT);
    return;
  }
  const envelope = envelopeOf(message.id, message.jsonrpc);
  if (message.method === 'subscription.stop') {
    // Also cancels a query or mutation: stock tRPC has no cancel, Herald's client uses this.
    const running = connection.calls.get(envelope);
    if (running) stop(running);
    return;
  }
  if (connection.expired) {
    // No request starts once the credentials expired: this one is refused and the connection ends.
    connection.sendError(
      envelope,
      new HeraldError('TOKEN_EXPIRED', "The connection's credentials expired; reconnect with fresh connectionParams"),
      UNKNOWN_CONTEXT,
    );
    connection.expire();
    return;
  }
  const { path, lastEventId } = message.params;
  let input = message.params.input;
  const type = message.method;
  if (lastEventId !== undefined) {
    // As tRPC does: the procedure reads the resume position from its input.
    input = typeof input === 'object' && input !== null ? { ...input, lastEventId } : (input ?? { lastEventId });
  }
  const context: ErrorContext = { type, path, input, ctx: connection.ctx };
  if (connection.calls.has(envelope)) {
    connection.sendError(envelope, new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${String(message.id)}` }), context);
    return;
  }
  const maxSubscriptions = config.limits.maxSubscriptions;
  if (type === 'subscription' && connection.subscriptionCount >= maxSubscriptions) {
    config.metrics.refusal(RefusalReason.MAX_SUBSCRIPTIONS);
    connection.sendError(
      envelope,
      new HeraldError('LIMIT_EXCEEDED', `A connection may hold at most ${maxSubscriptions} subscriptions; stop one first`),
      context,
    );
    return;
  }
  const call = new RunningCall(type);
  connection.track(envelope, call);
  // Ordering on one socket (ordering.ts): a subscription starts at once and
  // marks itself live when it is; a query or mutation first waits for the
  // subscriptions sent before it that are still opening.
  if (type === 'subscription') {
    void subscribe(connection, envelope, call, context, batchIndex, fail);
    return;
  }
  connection.unanswered++;
  const idempotencyKey = type === 'mutation' ? idempotencyKeyOf(raw) : null;
  const barrier = connection.opening.barrier();
  // A closure only for a call that has to wait: the usual call starts here.
  if (barrier) void barrier.then(() => answerCall(connection, envelope, call, context, batchIndex, idempotencyKey));
  else void answerCall(connection, envelope, call, context, batchIndex, idempotencyKey);
}

/** Answers a call that failed with its error, unless it was cancelled by the socket closing. */
function fail<TRouter extends AnyRouter>(
  connection: Connection<TRouter>,
  envelope: Envelope,
  call: RunningCall,
  context: ErrorContext,
  cause: unknown,
): void {
  if (call.aborted && connection.closed) return;
  const error = getTRPCErrorFromUnknown(cause);
  connection.report(error, context.type, context.path);
  connection.sendError(envelope, error, { ...context, ctx: connection.ctx });
}

/**
 * Runs a query or mutation (once per key when it carries an idempotency
 * key) and answers it; never rejects. Its end (answered, failed or
 * cancelled) releases its id and counts it answered for the drain.
 */
async function answerCall<TRouter extends AnyRouter>(
  connection: Connection<TRouter>,
  envelope: Envelope,
  call: RunningCall,
  context: ErrorContext,
  batchIndex: number,
  idempotencyKey: string | null,
): Promise<void> {
  try {
    if (idempotencyKey) {
      await answerOnce(connection, envelope, idempotencyKey, context, batchIndex);
      return;
    }
    const result = await callProcedure(connection, call, context, batchIndex);
    // A cancelled call gets no answer: the client stopped waiting, or the socket is gone.
    if (result === SKIPPED || call.aborted) return;
    if (isAsyncIterable(result) || isObservable(result)) {
      throw new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `A ${context.type} cannot return a stream; use a subscription` });
    }
    connection.send(connection.config.wire.data(envelope, result));
  } catch (cause) {
    fail(connection, envelope, call, context, cause);
  } finally {
    connection.forget(envelope, call);
    connection.answered();
  }
}

/**
 * A mutation with an idempotency key runs once per key (see
 * `IdempotentCalls`): a repeat gets the first attempt's response, data or
 * error. The run is not cancelled when the socket closes, so the outcome is
 * recorded for the repeat the client will send after reconnecting.
 */
async function answerOnce<TRouter extends AnyRouter>(
  connection: Connection<TRouter>,
  envelope: Envelope,
  idempotencyKey: string,
  context: ErrorContext,
  batchIndex: number,
): Promise<void> {
  if (!(await connection.admitted)) return;
  const { config } = connection;
  const { outcome } = await config.idempotentCalls.run(connection.ctx, context.path ?? '', idempotencyKey, async () => {
    const uncancelled = new RunningCall('mutation');
    try {
      return config.wire.dataBody(await callProcedure(connection, uncancelled, context, batchIndex));
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      connection.report(error, 'mutation', context.path);
      config.metrics.error(errorCodeOf(error));
      return config.wire.errorBody(error, { ...context, ctx: connection.ctx }, (e) => connection.report(e, 'mutation'));
    }
  });
  connection.send(config.wire.withEnvelope(envelope, outcome));
}

/** For answers that concern no request or one whose context is not known yet. */
export const UNKNOWN_CONTEXT: ErrorContext = { type: 'unknown', path: undefined, input: undefined, ctx: undefined };

/** The Herald code of a Herald error, else the tRPC code: the `code` label of `herald_errors_total`. */
export function errorCodeOf(error: TRPCError): string {
  return error instanceof HeraldError ? error.heraldCode : error.code;
}

export function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** `subscription.stop` only releases: it is never rate limited. */
function isStop(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { method?: unknown }).method === 'subscription.stop';
}

/** The envelope of a request that may not parse: its id when it has a usable one, else none. */
export function envelopeOfRequest(raw: unknown): Envelope {
  if (typeof raw !== 'object' || raw === null) return NULL_ENVELOPE;
  const { id, jsonrpc } = raw as { id?: unknown; jsonrpc?: unknown };
  if (typeof id !== 'number' && typeof id !== 'string') return NULL_ENVELOPE;
  return envelopeOf(id, jsonrpc === '2.0' ? '2.0' : undefined);
}

/** The idempotency key Herald's client puts beside a mutation's params (tRPC's parser drops it). */
function idempotencyKeyOf(raw: unknown): string | null {
  const params = typeof raw === 'object' && raw !== null ? (raw as { params?: unknown }).params : undefined;
  return idempotencyKeyFrom(typeof params === 'object' && params !== null ? (params as { idempotencyKey?: unknown }).idempotencyKey : undefined);
}
