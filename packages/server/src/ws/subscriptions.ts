import { getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import { isAsyncIterable, isTrackedEnvelope } from '@trpc/server/unstable-core-do-not-import';
import type { ChannelEvent } from '@herald/shared';
import type { ErrorContext } from '../calls/outcome.js';
import type { Opening } from '../calls/ordering.js';
import type { RunningCall } from '../calls/runningCall.js';
import { nativeStreamOf, type NativeStreamHandle } from '../channels/nativeStream.js';
import type { SharedEvent } from '../channels/sharedEvent.js';
import type { EventSink } from '../channels/subscriber.js';
import { codeOf, recordSubscriptionEnd, type HeraldSpan, type TraceCarrier } from '../observability/tracing.js';
import type { CallHost, HostedCall } from './host.js';
import { patchBetween } from '../live/livePatch.js';
import { PreparedFrame } from './preparedFrame.js';
import type { Envelope } from './wire.js';

/**
 * A native channel subscription: the sink its channel delivers into and its
 * entry in the connection's calls, one small object (no signal, promise,
 * generator or closure kept per subscription). `release` ends it.
 */
export class NativeSubscription implements EventSink, HostedCall {
  handle: NativeStreamHandle | null = null;
  /** An `end` that came before the stream was open (see `opened`). */
  private endedWhileOpening: { readonly error: unknown } | null = null;
  /** Where its live frames are memoized on a shared event: one per subscription id and encoding. */
  private readonly frameKey: string;

  constructor(
    private readonly connection: CallHost,
    readonly envelope: Envelope,
    readonly path: string | undefined,
    /** Live query results may go as patches: its client asked, on a JSON connection (see `@herald/shared`'s livePatch). */
    private readonly livePatches = false,
    /** The trace context of its start's span, when one was recorded: its end's span links to it. */
    private readonly started: TraceCarrier | null = null,
  ) {
    this.frameKey = connection.binary ? BINARY_FRAME_PREFIX + envelope : envelope;
  }

  get type(): 'subscription' {
    return 'subscription';
  }

  /** The channel topic it delivers, once open (read by the admin page, not per delivery). */
  get topic(): string | undefined {
    return this.handle?.topic;
  }

  stop(): void {
    this.release();
  }

  /**
   * Authorizes it again with a refreshed context: one no longer allowed ends
   * with the refusal (FORBIDDEN) while the connection's other calls go on.
   */
  async reauthorize(ctx: unknown): Promise<void> {
    if (!this.handle) return;
    try {
      await this.handle.authorize(ctx);
    } catch (cause) {
      this.refuse(cause, ctx);
    }
  }

  /**
   * Its stream ended with `error` (a live query's recompute refused): the
   * client gets the error as a refused channel subscriber does. While it is
   * still opening, the error waits for `opened`.
   */
  end(error: unknown): void {
    if (this.handle) this.refuse(error, this.connection.ctx);
    else this.endedWhileOpening = { error };
  }

  /** Its stream is open (`handle` set) and tracked: an end that came meanwhile takes effect now. */
  opened(): void {
    const ended = this.endedWhileOpening;
    this.endedWhileOpening = null;
    if (ended) this.refuse(ended.error, this.connection.ctx);
  }

  private refuse(cause: unknown, ctx: unknown): void {
    this.connection.sendError(this.envelope, getTRPCErrorFromUnknown(cause), { type: 'subscription', path: this.path, input: undefined, ctx });
    this.release(false);
  }

  /**
   * One delivery. A live message and a live query's result are shared by every local subscriber:
   * serialized once, framed once per distinct subscription id and encoding, then written.
   * Anything else (a replayed message, a `live` or `gap` marker) was made for
   * this subscriber alone and is written straight away, without memos.
   */
  deliver(shared: SharedEvent, previous?: SharedEvent | null): void {
    if (previous && this.livePatches) {
      const patch = this.patchFrame(shared, previous);
      if (patch) return this.connection.sendPrepared(patch);
    }
    if (shared.kind === 'own') {
      const { frames } = this.connection;
      const { position } = shared;
      const event = shared.event as ChannelEvent<unknown>;
      this.connection.send(event.type === 'message' ? frames.tracked(this.envelope, position, event) : frames.marker(this.envelope, position, event));
      return;
    }
    // One lookup per delivery, and no closure: the frame is built once per distinct subscription id.
    this.connection.sendPrepared(shared.peek<PreparedFrame>(this.frameKey) ?? this.frameFor(shared));
  }

  private frameFor(shared: SharedEvent): PreparedFrame {
    const { connection } = this;
    const { config } = connection;
    return shared.memo(this.frameKey, () => {
      // The serialized data is needed only to build a frame for an id not seen yet, once per encoding:
      // JSON text for JSON connections, a value with its bytes as bytes for MessagePack ones.
      if (connection.binary) {
        const { binaryWire } = config;
        const data = shared.memo(TRACKED_VALUE, () => {
          observeOnce(shared, config);
          return { value: binaryWire.serializeTracked(shared.position, shared.event) };
        });
        return new PreparedFrame(binaryWire.trackedData(this.envelope, shared.position, data.value));
      }
      return new PreparedFrame(config.wire.trackedData(this.envelope, shared.position, this.dataOf(shared)));
    });
  }

  /** The shared event's tracked data as JSON text, serialized once for every subscriber. */
  private dataOf(shared: SharedEvent): string {
    return shared.memo(TRACKED_DATA, () => {
      const { config } = this.connection;
      observeOnce(shared, config);
      return config.wire.serializeTracked(shared.position, shared.event);
    });
  }

  /**
   * The patch frame from `previous` to `shared` (a live query's results),
   * built once per node for every subscriber with the same previous result
   * and subscription id; false when the whole result is not much larger (`patchBetween`).
   */
  private patchFrame(shared: SharedEvent, previous: SharedEvent): PreparedFrame | false {
    return shared.memo(`${PATCH_FRAME_PREFIX}${previous.position}:${this.envelope}`, () => {
      const patch = patchBetween(shared, previous, (event) => this.dataOf(event));
      return patch !== '' && new PreparedFrame(this.connection.config.wire.livePatch(this.envelope, shared.position, previous.position, patch));
    });
  }

  /** Ends it: stops its delivery, then (unless it was ended with an error) tells the client it stopped. */
  release(notify = true): void {
    const connection = this.connection;
    if (this.started) recordSubscriptionEnd(this.path ?? '', this.started, notify ? 'stopped' : 'refused');
    connection.config.metrics.subscriptions--;
    connection.forget(this.envelope, this);
    this.handle?.close().then(
      () => {
        if (notify) connection.send(connection.frames.stopped(this.envelope));
      },
      (cause: unknown) => connection.config.runner.failure(cause, { type: 'subscription', path: this.path }),
    );
  }
}

/** A live event's delivery latency, observed once per message whichever encoding serializes it first. */
function observeOnce(shared: SharedEvent, config: CallHost['config']): void {
  if (shared.kind === 'published' && shared.peek(TRACKED_DATA) === undefined && shared.peek(TRACKED_VALUE) === undefined) {
    config.metrics.observeDelivery(shared.position, Date.now());
  }
}

/** Memo keys of a shared event's serialized data (JSON text, MessagePack value); envelopes (`"id":…`) cannot collide with them. */
const TRACKED_DATA = 'tracked-data';
/** Before a base version and an envelope, the memo key of a live query patch frame. */
const PATCH_FRAME_PREFIX = 'patch-frame:';
const TRACKED_VALUE = 'tracked-value';
/** Before an envelope, the memo key of its MessagePack frame (its JSON frame's key is the envelope itself). */
const BINARY_FRAME_PREFIX = 'msgpack:';

/** `subscribe`'s arguments: the request on its connection, the span of its start (when an OpenTelemetry SDK records spans), and whether its client takes live query patches. */
type SubscribeArgs = [connection: CallHost, envelope: Envelope, call: RunningCall, context: ErrorContext, batchIndex: number, span: HeraldSpan | null, asksForPatches: boolean];

/**
 * Runs a subscription request to its end; never rejects (a failure goes to
 * `fail`). It is registered as opening at once, before its first await, so
 * the calls sent after it wait for it, and settled once it is live (a
 * channel stream: attached, history sent, presence joined) or gone
 * (ordering.ts).
 *
 * A channel stream goes straight onto the socket (see `NativeSubscription`):
 * once open, the subscription is that one object, not the call's signal,
 * this function's frame or any closure. Any other async iterable or
 * observable is stepped (`stepSubscription`).
 */
export async function subscribe(...args: SubscribeArgs): Promise<void> {
  // The span of its start lasts until it is live or failed; its end is a span linked to it.
  const span = args[5];
  if (!span) return openSubscription(...args);
  try {
    await span.run(() => openSubscription(...args));
  } finally {
    span.end();
  }
}

async function openSubscription(...[connection, envelope, call, context, batchIndex, span, asksForPatches]: SubscribeArgs): Promise<void> {
  const opening = connection.opening.open();
  call.opening = opening;
  try {
    if (call.aborted) return;
    const result = await connection.config.runner.run(connection.ctx, call, 'subscription', context.path ?? '', context.input, batchIndex);
    // Channel data is serialized once with Herald's transformer, which the
    // router speaks (createHeraldServer refuses any other), so it goes out as it is.
    const native = nativeStreamOf(result);
    if (!native) {
      await stepSubscription(connection, envelope, call, context, opening, result, span);
      return;
    }
    try {
      // Authorization first: a refused subscription gets its error and nothing else, not even `started`.
      if (native.prepare) await native.prepare();
      if (call.aborted) return;
      // The history and the `live` marker usually follow within the same tick
      // (always with the memory broker): `started` waits for them, one write for all.
      // Live query patches only on JSON: a MessagePack frame carries bytes as `bin`, not as the JSON a patch is computed on.
      const livePatches = asksForPatches && native.livePatches === true && !connection.binary;
      connection.send(livePatches ? connection.config.wire.startedWithPatches(envelope) : connection.frames.started(envelope), true);
      const subscription = new NativeSubscription(connection, envelope, context.path, livePatches, span?.carrier() ?? null);
      subscription.handle = await native.open(subscription);
      connection.config.metrics.subscriptions++;
      // Stopped while it opened (or the socket closed): release now; otherwise `stop` will.
      if (call.aborted) subscription.release();
      else {
        connection.track(envelope, subscription);
        subscription.opened();
      }
      opening.settle();
    } finally {
      // The generator was never started; returning it releases nothing but keeps its contract.
      void (result as AsyncGenerator).return(undefined);
    }
  } catch (cause) {
    span?.fail(cause, codeOf(cause));
    connection.fail(envelope, call, context, cause);
  } finally {
    // A subscription that failed or was refused before it went live no longer holds the calls behind it.
    opening.settle();
    connection.forget(envelope, call);
  }
}

/** Steps a subscription Herald cannot see into, one frame per value, until it ends or is stopped. */
async function stepSubscription(
  connection: CallHost,
  envelope: Envelope,
  call: RunningCall,
  context: ErrorContext,
  opening: Opening,
  result: unknown,
  span: HeraldSpan | null,
): Promise<void> {
  const { config } = connection;
  if (!isAsyncIterable(result) && !isObservable(result)) {
    throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `Subscription ${context.path} returned neither an async iterable nor an observable` });
  }
  const signal = call.signal;
  const iterable = isObservable(result) ? observableToAsyncIterable(result, signal) : result;
  const iterator = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  if (signal.aborted) {
    await iterator.return?.();
    return;
  }
  connection.send(connection.frames.started(envelope));
  // A stream Herald cannot see into is live once its procedure returned it:
  // what it attaches to on its first step is the procedure's own business.
  opening.settle();
  const started = span?.carrier() ?? null;
  span?.end();
  const aborted = new Promise<'aborted'>((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
  config.metrics.subscriptions++;
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next === 'aborted' || next.done) break;
      const value = next.value;
      connection.send(
        isTrackedEnvelope(value) ? connection.frames.tracked(envelope, String(value[0]), value[1]) : connection.frames.data(envelope, value),
      );
    }
  } finally {
    if (started) recordSubscriptionEnd(context.path ?? '', started, signal.aborted ? 'stopped' : 'ended');
    config.metrics.subscriptions--;
    // Not awaited when aborted: a generator stuck in its own await would hold the connection's teardown.
    const returned = iterator.return?.();
    if (returned) returned.catch((cause: unknown) => connection.config.runner.failure(cause, context));
  }
  connection.send(connection.frames.stopped(envelope));
}
