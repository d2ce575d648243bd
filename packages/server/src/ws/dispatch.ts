import { TRPCError } from '@trpc/server';
import { bytesToBase64, LIVE_PATCHES_PARAM } from '@herald/shared/internal';
import { isObservable } from '@trpc/server/observable';
import { parseTRPCMessage } from '@trpc/server/rpc';
import { isAsyncIterable } from '@trpc/server/unstable-core-do-not-import';
import { idempotencyKeyFrom } from '../calls/idempotentCall.js';
import { UNKNOWN_CONTEXT, type ErrorContext } from '../calls/outcome.js';
import { inputTransformerOf } from '../calls/plainJson.js';
import { RunningCall } from '../calls/runningCall.js';
import { RefusalReason } from '../errors.js';
import { carrierOf, codeOf, startCallSpan, tracingActive, type HeraldSpan, type TraceCarrier } from '../observability/tracing.js';
import { InputLimitError } from '../transport/inputLimits.js';
import type { CallHost } from './host.js';
import { subscribe } from './subscriptions.js';
import { envelopeOf, NULL_ENVELOPE, type Envelope } from './wire.js';

/**
 * The requests of one frame (a frame may batch several) on an admitted
 * connection: the batch bound, then each request in order (`dispatch`).
 * A refused batch answers every request under its own id, so each call settles.
 */
export function dispatchFrame(host: CallHost, messages: readonly unknown[]): void {
  const refusal = host.config.gate.checkBatch(messages.length);
  if (refusal) {
    let withoutId = false;
    for (const message of messages) {
      const envelope = envelopeOfRequest(message);
      if (envelope === NULL_ENVELOPE) withoutId = true;
      else host.sendError(envelope, refusal.error, UNKNOWN_CONTEXT);
    }
    if (withoutId) host.sendError(NULL_ENVELOPE, refusal.error, UNKNOWN_CONTEXT);
    return;
  }
  for (let index = 0; index < messages.length; index++) dispatch(host, messages[index], index);
}

/**
 * One request: the request budget, parse, `subscription.stop`, expiry and
 * the per-connection checks, then the call itself; its answer or error goes
 * back under the request's id.
 */
function dispatch(host: CallHost, raw: unknown, batchIndex: number): void {
  const { config } = host;
  const { gate } = config;
  if (!isStop(raw)) {
    const refusal = gate.takeRequests(host);
    if (refusal) return host.sendError(envelopeOfRequest(raw), refusal.error, UNKNOWN_CONTEXT);
  }
  let message: ReturnType<typeof parseTRPCMessage>;
  try {
    message = parseTRPCMessage(raw, inputTransformerOf(config.runner.router._def._config.transformer));
  } catch (cause) {
    const error =
      cause instanceof InputLimitError
        ? gate.refuse(RefusalReason.INPUT_LIMITS, cause).error
        : new TRPCError({ code: 'BAD_REQUEST', message: `Malformed request: ${messageOf(cause)}`, cause });
    host.sendError(envelopeOfRequest(raw), error, UNKNOWN_CONTEXT);
    return;
  }
  if (message.id === null) {
    host.sendError(NULL_ENVELOPE, new TRPCError({ code: 'BAD_REQUEST', message: 'Requests need an `id`' }), UNKNOWN_CONTEXT);
    return;
  }
  const envelope = envelopeOf(message.id, message.jsonrpc);
  if (message.method === 'subscription.stop') {
    // Also cancels a query or mutation: stock tRPC has no cancel, Herald's client uses this.
    host.callAt(envelope)?.stop();
    return;
  }
  if (gate.expired(host.trustedUntil)) {
    // No request starts once the credentials expired: this one is refused and the connection ends.
    host.sendError(envelope, gate.expiredRefusal().error, UNKNOWN_CONTEXT);
    host.expire();
    return;
  }
  const { path, lastEventId } = message.params;
  let input = message.params.input;
  const type = message.method;
  if (lastEventId !== undefined) {
    // As tRPC does: the procedure reads the resume position from its input.
    input = typeof input === 'object' && input !== null ? { ...input, lastEventId } : (input ?? { lastEventId });
  }
  const context: ErrorContext = { type, path, input, ctx: host.ctx };
  if (host.callAt(envelope)) {
    host.sendError(envelope, new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${String(message.id)}` }), context);
    return;
  }
  if (type === 'subscription') {
    const refusal = gate.checkSubscriptions(host.subscriptionCount);
    if (refusal) return host.sendError(envelope, refusal.error, context);
  }
  const call = new RunningCall(type);
  host.track(envelope, call);
  // Ordering on one socket (calls/ordering.ts): a subscription starts at once
  // and marks itself live when it is; a query or mutation first waits for the
  // subscriptions sent before it that are still opening.
  const span = tracingActive() ? startCallSpan(type, path, traceOfRequest(raw)) : null;
  if (type === 'subscription') {
    void subscribe(host, envelope, call, context, batchIndex, span, asksForPatches(raw));
    return;
  }
  host.began();
  const keyed = type === 'mutation' ? keyedInputOf(raw, host.binary) : null;
  const barrier = host.opening.barrier();
  // A closure only for a call that has to wait: the usual call starts here.
  if (barrier) void barrier.then(() => answer(host, envelope, call, context, batchIndex, keyed, span));
  else void answer(host, envelope, call, context, batchIndex, keyed, span);
}

/**
 * Runs a query or mutation (once per key when it carries an idempotency
 * key) and answers it; never rejects. Its end (answered, failed or
 * cancelled) releases its id and counts it answered for the drain.
 */
async function answer(
  host: CallHost,
  envelope: Envelope,
  call: RunningCall,
  context: ErrorContext,
  batchIndex: number,
  keyed: KeyedInput | null,
  span: HeraldSpan | null,
): Promise<void> {
  const { runner } = host.config;
  try {
    if (keyed) {
      // Not cancelled when the socket closes: the outcome is recorded for the repeat the client sends after reconnecting.
      const mutation = { scope: runner.scopeOf(host.ctx, host.userKey, host.address), path: context.path ?? '', key: keyed.key, inputText: keyed.inputText };
      const once = () => runner.once(mutation, context, batchIndex);
      const { outcome, replayed } = await (span ? span.run(once) : once());
      span?.set('herald.call.replayed', replayed);
      host.send(host.frames.withEnvelope(envelope, outcome));
      return;
    }
    if (call.aborted) return;
    const run = () => runner.run(host.ctx, call, context.type as 'query' | 'mutation', context.path ?? '', context.input, batchIndex);
    const result = await (span ? span.run(run) : run());
    // A cancelled call gets no answer: the client stopped waiting, or the socket is gone.
    if (call.aborted) return;
    if (isAsyncIterable(result) || isObservable(result)) {
      throw new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `A ${context.type} cannot return a stream; use a subscription` });
    }
    host.send(host.frames.data(envelope, result));
  } catch (cause) {
    span?.fail(cause, codeOf(cause));
    host.fail(envelope, call, context, cause);
  } finally {
    span?.end();
    host.forget(envelope, call);
    host.answered();
  }
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

/** The trace context Herald's client puts beside a request's params (`params.trace`; tRPC's parser drops it), if any. */
export function traceOfRequest(raw: unknown): TraceCarrier | null {
  const params = (raw as { params?: unknown }).params;
  return typeof params === 'object' && params !== null ? carrierOf((params as { trace?: unknown }).trace) : null;
}

/** A mutation's idempotency key and its input as sent (what the key's fingerprint covers). */
interface KeyedInput {
  readonly key: string;
  readonly inputText: string;
}

/**
 * The idempotency key Herald's client puts beside a mutation's params
 * (tRPC's parser drops it), with the input it came with as JSON text. From
 * a MessagePack frame, its bytes are written as base64, as a JSON frame
 * carries them: the same mutation has one fingerprint on either encoding.
 */
function keyedInputOf(raw: unknown, binary: boolean): KeyedInput | null {
  const params = (raw as { params?: unknown }).params as { idempotencyKey?: unknown; input?: unknown } | undefined;
  if (typeof params !== 'object' || params === null) return null;
  const key = idempotencyKeyFrom(params.idempotencyKey);
  return key === null ? null : { key, inputText: JSON.stringify(params.input, binary ? bytesAsBase64 : undefined) ?? '' };
}

/** Whether a subscription request says its client applies live query patches (Herald's client, `LIVE_PATCHES_PARAM`; tRPC's parser drops it). */
function asksForPatches(raw: unknown): boolean {
  const params = (raw as { params?: unknown }).params;
  return typeof params === 'object' && params !== null && (params as Record<string, unknown>)[LIVE_PATCHES_PARAM] === true;
}

/** A `JSON.stringify` replacer: bytes (read from the holder, before a Buffer's `toJSON`) as base64. */
function bytesAsBase64(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  return original instanceof Uint8Array ? bytesToBase64(original) : value;
}
