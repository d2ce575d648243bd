import type { IncomingMessage } from 'node:http';
import { callTRPCProcedure, getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { parseConnectionParamsFromUnknown } from '@trpc/server/http';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import { parseTRPCMessage } from '@trpc/server/rpc';
import { isAsyncIterable, isTrackedEnvelope } from '@trpc/server/unstable-core-do-not-import';
import { CloseCode } from '@herald/shared';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import type { IdempotencyStore } from '../brokers/idempotency.js';
import { nativeStreamOf, type NativeStream, type NativeStreamHandle } from '../channels/nativeStream.js';
import type { SharedEvent } from '../channels/sharedEvent.js';
import type { EventSink } from '../channels/subscriber.js';
import { HeraldError } from '../errors.js';
import { RefusalReason, type ServerMetrics } from '../observability/metrics.js';
import type { HeraldServerOptions } from '../options.js';
import { beforeWrite, type WriteTicks } from './cork.js';
import type { HeartbeatPeer } from './heartbeat.js';
import { frameWriterFor, PreparedFrame, type FrameWriter } from './preparedFrame.js';
import { TokenBucket } from './rateLimiter.js';
import type { Wire } from './wire.js';
import { envelopeOf, NULL_ENVELOPE, type Envelope, type ErrorContext } from './wire.js';

export interface ConnectionLimits {
  /** Subscriptions one connection may hold at once. */
  readonly maxSubscriptions: number;
  /** Requests one frame may batch. */
  readonly maxBatchSize: number;
  /** Bytes queued for one socket before it is closed as a slow consumer. */
  readonly maxBufferedBytes: number;
  /** Time a client has to send its `connectionParams` after the upgrade. */
  readonly connectionParamsTimeoutMs: number;
  /** Requests per second and burst (token bucket), or null for no rate limit. */
  readonly rate: { readonly perSecond: number; readonly burst: number } | null;
}

/** What a connection needs to know about the user limit; the handler keeps the counts. */
export interface UserSlots {
  /** The key a user is counted under, or null to not count it. */
  keyOf(user: unknown): string | null;
  /** Takes a slot for `key`; false when the user holds `maxConnectionsPerUser` already. */
  acquire(key: string): boolean;
  release(key: string): void;
}

/**
 * What every connection of one server shares: built once by the handler, so
 * a connection holds a reference, not a copy or closures of its own (a
 * per-connection closure here once kept each upgrade request alive).
 */
export interface ConnectionConfig<TRouter extends AnyRouter> {
  readonly router: TRouter;
  readonly wire: Wire;
  /** Whether channel streams may be written straight to sockets (the router uses Herald's transformer). */
  readonly nativeChannels: boolean;
  readonly createContext: HeraldServerOptions<TRouter, unknown>['createContext'];
  readonly authenticate: HeraldServerOptions<TRouter, unknown>['authenticate'];
  readonly onError: HeraldServerOptions<TRouter>['onError'];
  readonly limits: ConnectionLimits;
  /** permessage-deflate settings (what a shared compressed frame needs), or null when it is off. */
  readonly compression: { readonly threshold: number; readonly level: number } | null;
  readonly users: UserSlots;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** A query or mutation finished (the drain waits for the last one). */
  readonly onAnswered: () => void;
  readonly idempotency: {
    readonly store: IdempotencyStore;
    readonly ttlMs: number;
    readonly waitTimeoutMs: number;
    readonly scope: ((ctx: unknown) => string | null | undefined) | undefined;
  };
  readonly onClosed: (connection: Connection<TRouter>) => void;
}

/** Who a connection is, for logs. */
export interface ConnectionIdentity {
  /** Numbered per server: `c<number>` in logs. */
  readonly number: number;
  /** The client's address (the proxy's `X-Forwarded-For` entry with `trustProxy`). */
  readonly ip: string;
}

type ContextResult = { ok: true; ctx: unknown } | { ok: false };

interface RunningCall {
  readonly controller: AbortController;
  readonly type: 'query' | 'mutation' | 'subscription';
}

/** What a native subscription needs of its connection. */
interface SubscriptionOwner {
  deliverShared(envelope: Envelope, shared: SharedEvent): void;
  releaseSubscription(subscription: NativeSubscription): void;
}

/**
 * A native channel subscription: the sink its channel delivers into and its
 * entry in the connection's calls, one small object (no signal, promise,
 * generator or closure kept per subscription). `release` ends it.
 */
class NativeSubscription implements EventSink {
  handle: NativeStreamHandle | null = null;

  constructor(
    private readonly connection: SubscriptionOwner,
    readonly envelope: Envelope,
    readonly path: string | undefined,
  ) {}

  get type(): 'subscription' {
    return 'subscription';
  }

  deliver(shared: SharedEvent): void {
    this.connection.deliverShared(this.envelope, shared);
  }

  release(): void {
    this.connection.releaseSubscription(this);
  }
}

/**
 * How long a slow consumer's socket may take to close after its 4002 close
 * frame (queued behind everything it did not read) before it is destroyed:
 * a peer that stopped reading will not read the close frame either, and its
 * send buffer is memory the server wants back.
 */
const SLOW_CONSUMER_GRACE_MS = 1_000;

/**
 * One WebSocket speaking tRPC's wire protocol: connection params, queries,
 * mutations, subscriptions (native channel streams written straight to the
 * socket; any other async iterable or observable stepped here), `PING`/`PONG`,
 * cancellation, and the slow-consumer bound.
 */
export class Connection<TRouter extends AnyRouter> implements HeartbeatPeer, WriteTicks, SubscriptionOwner {
  lastSeenAt = Date.now();
  lastWriteTick = 0;
  pingSentAt = 0;
  private context: Promise<ContextResult> | null = null;
  private ctxValue: unknown = undefined;
  private readonly calls = new Map<Envelope, RunningCall | NativeSubscription>();
  private closed = false;
  private paramsTimer: NodeJS.Timeout | null = null;
  private slowConsumerTimer: NodeJS.Timeout | null = null;
  /** Queries and mutations not answered yet (what a drain waits for). */
  private unanswered = 0;
  private readonly bucket: TokenBucket | null;
  /** The key this connection holds a user slot under. */
  private userSlot: string | null = null;
  /** Why the server ended the connection, when it did (for the close log line). */
  private endedBy: { code: number; reason: string } | null = null;
  private readonly openedAt = Date.now();
  private readonly writeFrame: FrameWriter;
  /** The upgrade request, kept until `authenticate` and `createContext` have seen it (it is a few KiB per socket). */
  private req: IncomingMessage | null;

  private readonly number: number;
  private readonly ip: string;

  constructor(
    readonly socket: WebSocket,
    req: IncomingMessage,
    private readonly config: ConnectionConfig<TRouter>,
    identity: ConnectionIdentity,
  ) {
    this.number = identity.number;
    this.ip = identity.ip;
    this.req = req;
    const rate = config.limits.rate;
    this.bucket = rate ? new TokenBucket(rate.perSecond, rate.burst, this.openedAt) : null;
    this.writeFrame = frameWriterFor(socket, config.compression);
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    socket.on('close', (code, reason) => this.onClose(code, reason));
    // `ws` reports protocol violations (bad UTF-8, oversized frames) here and
    // then closes the socket itself; without a listener they would crash the process.
    socket.on('error', (error) => this.onSocketError(error));
    config.metrics.connectionsOpened++;
    config.logger.info(
      { event: 'connection.open', connectionId: this.connectionId, ip: this.ip, origin: req.headers.origin ?? null },
      'connection opened',
    );

    const wantsParams = new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
    if (wantsParams) {
      this.paramsTimer = setTimeout(() => {
        this.refuse(
          new HeraldError('UNAUTHORIZED', 'No connectionParams arrived in time'),
          CloseCode.UNAUTHORIZED,
          'connectionParams timeout',
          RefusalReason.CONNECTION_PARAMS_TIMEOUT,
        );
      }, config.limits.connectionParamsTimeoutMs);
    } else {
      this.context = this.open(null);
    }
  }

  /** This connection's name in logs. */
  get connectionId(): string {
    return `c${this.number}`;
  }

  /** Queries and mutations received and not answered yet. */
  get unansweredCount(): number {
    return this.unanswered;
  }

  get subscriptionCount(): number {
    let count = 0;
    for (const call of this.calls.values()) if (call.type === 'subscription') count++;
    return count;
  }

  ping(): void {
    this.send('PING');
  }

  /** Drops the socket without a close handshake (heartbeat timeout, or a close that took too long). */
  terminate(reason = 'heartbeat timeout'): void {
    this.endedBy ??= { code: reason === 'heartbeat timeout' ? CloseCode.HEARTBEAT_TIMEOUT : 1006, reason };
    this.socket.terminate();
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.endedBy ??= { code, reason };
      this.socket.close(code, reason);
    }
  }

  /** Sends tRPC's reconnect notice: the client opens a new socket and moves its subscriptions there. */
  requestReconnect(): void {
    this.send(this.config.wire.reconnect());
  }

  /**
   * Writes one frame unless the socket is over its buffered-bytes bound: then
   * the peer is not reading, and it is closed with SLOW_CONSUMER instead of
   * letting its queue grow. It resumes from history when it reconnects.
   */
  send(text: string): void {
    if (!this.writable()) return;
    const byteLength = Buffer.byteLength(text);
    this.config.metrics.bytesOut += byteLength;
    if (!this.writeFrame.text(text, byteLength)) this.socket.send(text, TEXT_FRAME);
  }

  /** `send` for a frame shared by many sockets: written as it was built where the socket allows it. */
  sendPrepared(frame: PreparedFrame): void {
    if (!this.writable()) return;
    this.config.metrics.bytesOut += frame.payload.length;
    if (!this.writeFrame.prepared(frame)) this.socket.send(frame.payload, TEXT_FRAME);
  }

  /** Whether a frame may be written now (open, and under the buffered-bytes bound); batches the tick's writes. */
  private writable(): boolean {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount > this.config.limits.maxBufferedBytes) {
      this.closeSlowConsumer();
      return false;
    }
    // `ws` exposes no cork of its own; its net.Socket has been `_socket` since ws 1.
    const raw = (socket as unknown as { _socket?: Parameters<typeof beforeWrite>[0] })._socket;
    if (raw) beforeWrite(raw, this);
    this.config.metrics.framesOut++;
    return true;
  }

  private closeSlowConsumer(): void {
    this.config.metrics.slowConsumerCloses++;
    this.close(CloseCode.SLOW_CONSUMER, 'slow consumer: send buffer over its bound');
    this.slowConsumerTimer = setTimeout(() => this.socket.terminate(), SLOW_CONSUMER_GRACE_MS);
    this.slowConsumerTimer.unref();
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.lastSeenAt = Date.now();
    this.pingSentAt = 0;
    const metrics = this.config.metrics;
    metrics.framesIn++;
    metrics.bytesIn += Array.isArray(data) ? data.reduce((sum, chunk) => sum + chunk.length, 0) : data.byteLength;
    if (isBinary) {
      this.sendError(NULL_ENVELOPE, new TRPCError({ code: 'UNPROCESSABLE_CONTENT', message: 'Herald expects text frames of JSON' }), unknownContext);
      return;
    }
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString();
    if (text === 'PING') return this.send('PONG');
    if (text === 'PONG') return;

    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      this.sendError(NULL_ENVELOPE, new TRPCError({ code: 'PARSE_ERROR', message: 'The frame is not valid JSON', cause }), unknownContext);
      return;
    }

    if (!this.context) {
      this.acceptConnectionParams(parsed);
      return;
    }

    const messages = Array.isArray(parsed) ? parsed : [parsed];
    if (messages.length > this.config.limits.maxBatchSize) {
      metrics.refusal(RefusalReason.MAX_BATCH_SIZE);
      this.sendError(
        NULL_ENVELOPE,
        new HeraldError('LIMIT_EXCEEDED', `A frame may batch at most ${this.config.limits.maxBatchSize} requests`),
        unknownContext,
      );
      return;
    }
    messages.forEach((message, index) => this.onRequest(message, index));
  }

  private acceptConnectionParams(parsed: unknown): void {
    if (this.paramsTimer) clearTimeout(this.paramsTimer);
    this.paramsTimer = null;
    let params: Record<string, string> | null;
    try {
      if (typeof parsed !== 'object' || parsed === null || (parsed as { method?: unknown }).method !== 'connectionParams') {
        throw new Error('the first frame must be {"method":"connectionParams","data":{...}}');
      }
      params = stringEntries(parseConnectionParamsFromUnknown((parsed as { data?: unknown }).data));
    } catch (cause) {
      this.sendError(
        NULL_ENVELOPE,
        new TRPCError({ code: 'PARSE_ERROR', message: `Malformed connectionParams: ${messageOf(cause)}`, cause }),
        unknownContext,
      );
      this.close(CloseCode.PROTOCOL_ERROR, 'malformed connectionParams');
      this.context = Promise.resolve({ ok: false });
      return;
    }
    this.context = this.open(params);
  }

  /**
   * Admits the connection: `authenticate` decides its user, the user limit
   * is checked, then `createContext` builds the context. Requests that
   * arrive meanwhile wait for this; any refusal answers them with nothing
   * (the socket is closing) and ends the connection.
   */
  private async open(connectionParams: Record<string, string> | null): Promise<ContextResult> {
    const req = this.req!;
    this.req = null;
    let user: unknown = null;
    if (this.config.authenticate) {
      try {
        user = (await this.config.authenticate(connectionParams, req)) ?? null;
      } catch (cause) {
        if (!(cause instanceof TRPCError)) this.report(cause, 'authenticate');
        this.refuse(authenticationError(cause), CloseCode.UNAUTHORIZED, 'unauthorized', RefusalReason.UNAUTHORIZED);
        return { ok: false };
      }
    }
    if (this.closed) return { ok: false };
    const key = user === null ? null : this.config.users.keyOf(user);
    if (key !== null) {
      if (!this.config.users.acquire(key)) {
        this.refuse(
          new HeraldError('LIMIT_EXCEEDED', 'This user holds as many connections as it may; close one first'),
          CloseCode.LIMIT_EXCEEDED,
          'too many connections for this user',
          RefusalReason.MAX_CONNECTIONS_PER_USER,
        );
        return { ok: false };
      }
      this.userSlot = key;
    }
    try {
      this.ctxValue = await this.config.createContext({ connectionParams, req, user });
      return { ok: true, ctx: this.ctxValue };
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      this.report(error, 'unknown');
      const refused = error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN';
      if (refused) {
        this.refuse(error, CloseCode.UNAUTHORIZED, 'unauthorized', RefusalReason.UNAUTHORIZED);
      } else {
        this.sendError(NULL_ENVELOPE, error, unknownContext);
        this.close(1011, 'createContext failed');
      }
      return { ok: false };
    }
  }

  /** Answers with `error` (a frame without a request id: it concerns the connection), then closes. */
  private refuse(error: TRPCError, code: number, reason: string, refusal: RefusalReason): void {
    this.config.metrics.refusal(refusal);
    this.config.logger.debug({ event: 'connection.refused', connectionId: this.connectionId, reason: refusal, message: error.message });
    this.sendError(NULL_ENVELOPE, error, unknownContext);
    this.close(code, reason);
  }

  private onRequest(raw: unknown, batchIndex: number): void {
    if (this.bucket && !isStop(raw) && !this.bucket.take(Date.now())) {
      this.config.metrics.refusal(RefusalReason.RATE);
      const id = requestIdOf(raw);
      const rate = this.config.limits.rate;
      this.sendError(
        id === null ? NULL_ENVELOPE : envelopeOf(id, jsonRpcOf(raw)),
        new HeraldError('LIMIT_EXCEEDED', `Rate limit: at most ${rate?.perSecond} requests per second (bursts of ${rate?.burst})`),
        unknownContext,
      );
      return;
    }
    let message: ReturnType<typeof parseTRPCMessage>;
    try {
      message = parseTRPCMessage(raw, this.config.router._def._config.transformer);
    } catch (cause) {
      const id = requestIdOf(raw);
      this.sendError(
        id === null ? NULL_ENVELOPE : envelopeOf(id, undefined),
        new TRPCError({ code: 'BAD_REQUEST', message: `Malformed request: ${messageOf(cause)}`, cause }),
        unknownContext,
      );
      return;
    }
    if (message.id === null) {
      this.sendError(NULL_ENVELOPE, new TRPCError({ code: 'BAD_REQUEST', message: 'Requests need an `id`' }), unknownContext);
      return;
    }
    const envelope = envelopeOf(message.id, message.jsonrpc);
    if (message.method === 'subscription.stop') {
      // Also cancels a query or mutation: stock tRPC has no cancel, Herald's client uses this.
      const running = this.calls.get(envelope);
      if (running) stop(running);
      return;
    }
    const { path, lastEventId } = message.params;
    let input = message.params.input;
    const type = message.method;
    if (lastEventId !== undefined) {
      // As tRPC does: the procedure reads the resume position from its input.
      input = typeof input === 'object' && input !== null ? { ...input, lastEventId } : (input ?? { lastEventId });
    }
    const context: ErrorContext = { type, path, input, ctx: this.ctxValue };
    if (this.calls.has(envelope)) {
      this.sendError(envelope, new TRPCError({ code: 'BAD_REQUEST', message: `Duplicate id ${String(message.id)}` }), context);
      return;
    }
    if (type === 'subscription' && this.subscriptionCount >= this.config.limits.maxSubscriptions) {
      this.config.metrics.refusal(RefusalReason.MAX_SUBSCRIPTIONS);
      this.sendError(
        envelope,
        new HeraldError('LIMIT_EXCEEDED', `A connection may hold at most ${this.config.limits.maxSubscriptions} subscriptions`),
        context,
      );
      return;
    }
    const call: RunningCall = { controller: new AbortController(), type };
    this.calls.set(envelope, call);
    const answers = type !== 'subscription';
    if (answers) this.unanswered++;
    const idempotencyKey = type === 'mutation' ? idempotencyKeyOf(raw) : null;
    const run =
      type === 'subscription'
        ? this.subscribe(envelope, call, context, batchIndex)
        : idempotencyKey
          ? this.answerOnce(envelope, idempotencyKey, context, batchIndex)
          : this.answer(envelope, call, context, batchIndex);
    run
      .catch((cause: unknown) => {
        if (call.controller.signal.aborted && this.closed) return;
        const error = getTRPCErrorFromUnknown(cause);
        this.report(error, type, path);
        this.sendError(envelope, error, { ...context, ctx: this.ctxValue });
      })
      .finally(() => {
        if (this.calls.get(envelope) === call) this.calls.delete(envelope);
        if (answers) {
          this.unanswered--;
          this.config.onAnswered();
        }
      });
  }

  private async callProcedure(call: RunningCall, context: ErrorContext, batchIndex: number): Promise<unknown | typeof SKIPPED> {
    const result = await this.context;
    if (!result?.ok || call.controller.signal.aborted) return SKIPPED;
    return callTRPCProcedure({
      router: this.config.router,
      path: context.path ?? '',
      getRawInput: async () => context.input,
      ctx: result.ctx,
      type: context.type as 'query' | 'mutation' | 'subscription',
      signal: call.controller.signal,
      batchIndex,
    });
  }

  private async answer(envelope: Envelope, call: RunningCall, context: ErrorContext, batchIndex: number): Promise<void> {
    const result = await this.callProcedure(call, context, batchIndex);
    // A cancelled call gets no answer: the client stopped waiting, or the socket is gone.
    if (result === SKIPPED || call.controller.signal.aborted) return;
    if (isAsyncIterable(result) || isObservable(result)) {
      throw new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: `A ${context.type} cannot return a stream; use a subscription` });
    }
    this.send(this.config.wire.data(envelope, result));
  }

  /**
   * A mutation with an idempotency key runs once per key, whichever node and
   * socket its repeats arrive on: a repeat gets the first attempt's response
   * (data or error). The run is not cancelled when the socket closes, so the
   * outcome is recorded for the repeat the client will send after reconnecting.
   */
  private async answerOnce(envelope: Envelope, idempotencyKey: string, context: ErrorContext, batchIndex: number): Promise<void> {
    const contextResult = await this.context;
    if (!contextResult?.ok) return;
    const { store, ttlMs, waitTimeoutMs, scope } = this.config.idempotency;
    const key = `${scope?.(contextResult.ctx) ?? ''}|${context.path ?? ''}|${idempotencyKey}`;
    const claim = await store.claim(key, ttlMs);
    let body: string | null;
    if (claim.state === 'done') {
      body = claim.outcome;
    } else if (claim.state === 'pending') {
      body = await store.wait(key, waitTimeoutMs);
      if (body === null) {
        throw new TRPCError({ code: 'TIMEOUT', message: 'The first attempt of this mutation is still running; retry later with the same key' });
      }
    } else {
      const uncancelled: RunningCall = { controller: new AbortController(), type: 'mutation' };
      try {
        const result = await this.callProcedure(uncancelled, context, batchIndex);
        if (result === SKIPPED) return;
        body = this.config.wire.dataBody(result);
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        this.report(error, 'mutation', context.path);
        this.config.metrics.error(errorCodeOf(error));
        body = this.config.wire.errorBody(error, { ...context, ctx: this.ctxValue }, (e) => this.report(e, 'mutation'));
      }
      await store.complete(key, body, ttlMs);
    }
    this.send(this.config.wire.withEnvelope(envelope, body));
  }

  private async subscribe(envelope: Envelope, call: RunningCall, context: ErrorContext, batchIndex: number): Promise<void> {
    const result = await this.callProcedure(call, context, batchIndex);
    if (result === SKIPPED) return;
    const signal = call.controller.signal;
    const native = this.config.nativeChannels ? nativeStreamOf(result) : null;
    if (native) {
      try {
        await this.openNative(envelope, native, signal, context.path);
      } finally {
        // The generator was never started; returning it releases nothing but keeps its contract.
        void (result as AsyncGenerator).return(undefined);
      }
      return;
    }
    if (!isAsyncIterable(result) && !isObservable(result)) {
      throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `Subscription ${context.path} returned neither an async iterable nor an observable` });
    }
    const iterable = isObservable(result) ? observableToAsyncIterable(result, signal) : result;
    const iterator = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    if (signal.aborted) {
      await iterator.return?.();
      return;
    }
    this.send(this.config.wire.started(envelope));
    const aborted = new Promise<'aborted'>((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true }));
    this.config.metrics.subscriptions++;
    try {
      for (;;) {
        const next = await Promise.race([iterator.next(), aborted]);
        if (next === 'aborted' || next.done) break;
        const value = next.value;
        this.send(
          isTrackedEnvelope(value)
            ? this.config.wire.tracked(envelope, String(value[0]), value[1])
            : this.config.wire.data(envelope, value),
        );
      }
    } finally {
      this.config.metrics.subscriptions--;
      // Not awaited when aborted: a generator stuck in its own await would hold the connection's teardown.
      const returned = iterator.return?.();
      if (returned) returned.catch((cause: unknown) => this.report(getTRPCErrorFromUnknown(cause), 'subscription', context.path));
    }
    this.send(this.config.wire.stopped(envelope));
  }

  /**
   * Opens a channel stream straight onto the socket. Once open, the
   * subscription is one `NativeSubscription` (its sink and its entry in
   * `calls`), not the call's signal, this method's frame or any closure.
   */
  private async openNative(envelope: Envelope, native: NativeStream, signal: AbortSignal, path: string | undefined): Promise<void> {
    // Authorization first: a refused subscription gets its error and nothing else, not even `started`.
    await native.prepare?.();
    if (signal.aborted) return;
    this.send(this.config.wire.started(envelope));
    const subscription = new NativeSubscription(this, envelope, path);
    subscription.handle = await native.open(subscription);
    this.config.metrics.subscriptions++;
    // Stopped while it opened (or the socket closed): release now; otherwise `stop` will.
    if (signal.aborted) subscription.release();
    else this.calls.set(envelope, subscription);
  }

  /** A native subscription's delivery: serialized once per message, framed once per distinct subscription id. */
  deliverShared(envelope: Envelope, shared: SharedEvent): void {
    // One lookup per delivery, and no closure: the frame is built once per distinct subscription id.
    this.sendPrepared(shared.peek<PreparedFrame>(envelope) ?? this.frameFor(envelope, shared));
  }

  private frameFor(envelope: Envelope, shared: SharedEvent): PreparedFrame {
    return shared.memo(envelope, () => {
      // The serialized data is needed only to build a frame for an id not seen yet.
      const data = shared.memo(TRACKED_DATA, () => {
        if (shared.live) this.config.metrics.observeDelivery(shared.position, Date.now());
        return this.config.wire.serializeTracked(shared.position, shared.event);
      });
      return new PreparedFrame(this.config.wire.trackedData(envelope, shared.position, data));
    });
  }

  /** Ends an open native subscription: stops its delivery, then tells the client it stopped. */
  releaseSubscription(subscription: NativeSubscription): void {
    this.config.metrics.subscriptions--;
    const { envelope, handle } = subscription;
    if (this.calls.get(envelope) === subscription) this.calls.delete(envelope);
    handle?.close().then(
      () => this.send(this.config.wire.stopped(envelope)),
      (cause: unknown) => this.report(getTRPCErrorFromUnknown(cause), 'subscription', subscription.path),
    );
  }

  private onClose(code: number, reasonBytes: Buffer): void {
    if (this.closed) return;
    this.closed = true;
    if (this.paramsTimer) clearTimeout(this.paramsTimer);
    if (this.slowConsumerTimer) clearTimeout(this.slowConsumerTimer);
    for (const call of this.calls.values()) stop(call);
    this.calls.clear();
    if (this.userSlot !== null) this.config.users.release(this.userSlot);
    this.config.metrics.connectionsClosed++;
    const peerReason = reasonBytes.toString('utf8');
    this.config.logger.info(
      {
        event: 'connection.close',
        connectionId: this.connectionId,
        ip: this.ip,
        code: this.endedBy?.code ?? code,
        reason: this.endedBy?.reason ?? (peerReason || (code === 1006 ? 'connection lost' : 'closed by client')),
        closedBy: this.endedBy ? 'server' : 'client',
        durationMs: Date.now() - this.openedAt,
      },
      'connection closed',
    );
    this.config.onClosed(this);
  }

  private onSocketError(error: Error): void {
    const code = (error as { code?: unknown }).code;
    if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.config.metrics.refusal(RefusalReason.MAX_PAYLOAD);
    else this.config.metrics.error(typeof code === 'string' ? code : 'SOCKET_ERROR');
    this.report(error, 'unknown');
  }

  private sendError(envelope: Envelope, error: TRPCError, context: ErrorContext): void {
    this.config.metrics.error(errorCodeOf(error));
    this.send(this.config.wire.error(envelope, error, context, (cause) => this.report(cause, context.type)));
  }

  private report(error: unknown, type: string, path?: string): void {
    this.config.onError?.({ error: error instanceof Error ? error : new Error(String(error)), path, type });
  }
}

const SKIPPED = Symbol('skipped');

/** Cancels a running call (aborts its signal) or ends an open native subscription. */
function stop(call: RunningCall | NativeSubscription): void {
  if ('release' in call) call.release();
  else call.controller.abort();
}

/** Send options of every frame: Herald speaks text frames of JSON (one shared object, not one per send). */
const TEXT_FRAME = { binary: false } as const;
/** Memo key of a shared event's serialized data; envelopes (`"id":…`) cannot collide with it. */
const TRACKED_DATA = 'tracked-data';
const unknownContext: ErrorContext = { type: 'unknown', path: undefined, input: undefined, ctx: undefined };

/** The Herald code of a Herald error, else the tRPC code: the `code` label of `herald_errors_total`. */
function errorCodeOf(error: TRPCError): string {
  return error instanceof HeraldError ? error.heraldCode : error.code;
}

/** What a refused `authenticate` tells the client: a TRPCError's message, else nothing internal. */
function authenticationError(cause: unknown): TRPCError {
  if (cause instanceof HeraldError && cause.heraldCode === 'UNAUTHORIZED') return cause;
  if (cause instanceof TRPCError) return new HeraldError('UNAUTHORIZED', cause.message, { cause });
  return new HeraldError('UNAUTHORIZED', 'Authentication failed', { cause });
}

/** `subscription.stop` only releases: it is never rate limited. */
function isStop(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { method?: unknown }).method === 'subscription.stop';
}

function jsonRpcOf(raw: unknown): '2.0' | undefined {
  return typeof raw === 'object' && raw !== null && (raw as { jsonrpc?: unknown }).jsonrpc === '2.0' ? '2.0' : undefined;
}

function requestIdOf(raw: unknown): number | string | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const id = (raw as { id?: unknown }).id;
  return typeof id === 'number' || typeof id === 'string' ? id : null;
}

/** tRPC's parser allows `undefined` values; the context sees only the strings that were sent. */
function stringEntries(params: Record<string, string | undefined> | null): Record<string, string> | null {
  if (!params) return null;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) if (typeof value === 'string') out[key] = value;
  return out;
}

/** The idempotency key Herald's client puts beside a mutation's params (tRPC's parser drops it). */
function idempotencyKeyOf(raw: unknown): string | null {
  const params = typeof raw === 'object' && raw !== null ? (raw as { params?: unknown }).params : undefined;
  const key = typeof params === 'object' && params !== null ? (params as { idempotencyKey?: unknown }).idempotencyKey : undefined;
  return typeof key === 'string' && key.length > 0 && key.length <= 128 ? key : null;
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
