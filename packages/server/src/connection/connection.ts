import type { IncomingMessage } from 'node:http';
import { callTRPCProcedure, getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { parseConnectionParamsFromUnknown } from '@trpc/server/http';
import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import { parseTRPCMessage } from '@trpc/server/rpc';
import { isAsyncIterable, isTrackedEnvelope } from '@trpc/server/unstable-core-do-not-import';
import { CloseCode } from '@herald/shared';
import type { RawData, WebSocket } from 'ws';
import type { IdempotencyStore } from '../brokers/idempotency.js';
import { nativeStreamOf, type NativeStreamHandle } from '../channels/nativeStream.js';
import { HeraldError } from '../errors.js';
import type { HeraldServerOptions } from '../options.js';
import type { HeartbeatPeer } from './heartbeat.js';
import type { Wire} from './wire.js';
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
}

export interface ConnectionConfig<TRouter extends AnyRouter> {
  readonly router: TRouter;
  readonly wire: Wire;
  /** Whether channel streams may be written straight to sockets (the router uses Herald's transformer). */
  readonly nativeChannels: boolean;
  readonly createContext: HeraldServerOptions<TRouter>['createContext'];
  readonly onError: HeraldServerOptions<TRouter>['onError'];
  readonly limits: ConnectionLimits;
  readonly idempotency: {
    readonly store: IdempotencyStore;
    readonly ttlMs: number;
    readonly waitTimeoutMs: number;
    readonly scope: ((ctx: unknown) => string | null | undefined) | undefined;
  };
  readonly onClosed: (connection: Connection<TRouter>) => void;
}

type ContextResult = { ok: true; ctx: unknown } | { ok: false };

interface RunningCall {
  readonly controller: AbortController;
  readonly type: 'query' | 'mutation' | 'subscription';
}

/**
 * One WebSocket speaking tRPC's wire protocol: connection params, queries,
 * mutations, subscriptions (native channel streams written straight to the
 * socket; any other async iterable or observable stepped here), `PING`/`PONG`,
 * cancellation, and the slow-consumer bound.
 */
export class Connection<TRouter extends AnyRouter> implements HeartbeatPeer {
  lastSeenAt = Date.now();
  pingSentAt = 0;
  private context: Promise<ContextResult> | null = null;
  private ctxValue: unknown = undefined;
  private readonly calls = new Map<Envelope, RunningCall>();
  private closed = false;
  private paramsTimer: NodeJS.Timeout | null = null;
  private corked = false;

  constructor(
    readonly socket: WebSocket,
    readonly req: IncomingMessage,
    private readonly config: ConnectionConfig<TRouter>,
  ) {
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    socket.on('close', () => this.onClose());
    // `ws` reports protocol violations (bad UTF-8, oversized frames) here and
    // then closes the socket itself; without a listener they would crash the process.
    socket.on('error', (error) => this.report(error, 'unknown'));

    const wantsParams = new URL(req.url ?? '/', 'http://localhost').searchParams.get('connectionParams') === '1';
    if (wantsParams) {
      this.paramsTimer = setTimeout(() => {
        this.sendError(NULL_ENVELOPE, new HeraldError('UNAUTHORIZED', 'No connectionParams arrived in time'), unknownContext);
        this.close(CloseCode.UNAUTHORIZED, 'connectionParams timeout');
      }, config.limits.connectionParamsTimeoutMs);
    } else {
      this.context = this.createContext(null);
    }
  }

  get subscriptionCount(): number {
    let count = 0;
    for (const call of this.calls.values()) if (call.type === 'subscription') count++;
    return count;
  }

  ping(): void {
    this.send('PING');
  }

  terminate(): void {
    this.socket.terminate();
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
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
  send(frame: string | Buffer): void {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > this.config.limits.maxBufferedBytes) {
      this.close(CloseCode.SLOW_CONSUMER, 'slow consumer: send buffer over its bound');
      return;
    }
    this.cork();
    socket.send(frame, { binary: false });
  }

  /**
   * Frames written in one tick (a batch's responses, a replay, a burst of
   * live messages) leave in one TCP write. `ws` exposes no cork of its own, so
   * this reaches the underlying net.Socket, which has been `_socket` since ws 1.
   */
  private cork(): void {
    if (this.corked) return;
    const raw = (this.socket as unknown as { _socket?: { cork(): void; uncork(): void; destroyed: boolean } })._socket;
    if (!raw || raw.destroyed) return;
    this.corked = true;
    raw.cork();
    process.nextTick(() => {
      this.corked = false;
      raw.uncork();
    });
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.lastSeenAt = Date.now();
    this.pingSentAt = 0;
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
    this.context = this.createContext(params);
  }

  private async createContext(connectionParams: Record<string, string> | null): Promise<ContextResult> {
    try {
      this.ctxValue = await this.config.createContext({ connectionParams, req: this.req });
      return { ok: true, ctx: this.ctxValue };
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      this.report(error, 'unknown');
      this.sendError(NULL_ENVELOPE, error, unknownContext);
      const refused = error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN';
      this.close(refused ? CloseCode.UNAUTHORIZED : 1011, refused ? 'unauthorized' : 'createContext failed');
      return { ok: false };
    }
  }

  private onRequest(raw: unknown, batchIndex: number): void {
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
      this.calls.get(envelope)?.controller.abort();
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
      this.sendError(
        envelope,
        new HeraldError('LIMIT_EXCEEDED', `A connection may hold at most ${this.config.limits.maxSubscriptions} subscriptions`),
        context,
      );
      return;
    }
    const call: RunningCall = { controller: new AbortController(), type };
    this.calls.set(envelope, call);
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
      if (signal.aborted) return;
      this.send(this.config.wire.started(envelope));
      const wire = this.config.wire;
      let handle: NativeStreamHandle;
      try {
        handle = await native.open({
          deliver: (shared) => {
            // Serialized once per message, framed once per distinct subscription id.
            const data = shared.memo(TRACKED_DATA, () => wire.serializeTracked(shared.position, shared.event));
            this.send(shared.memo(envelope, () => Buffer.from(wire.trackedData(envelope, shared.position, data))));
          },
        });
      } finally {
        // The generator was never started; returning it releases nothing but keeps its contract.
        void (result as AsyncGenerator).return(undefined);
      }
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      await handle.close();
      this.send(wire.stopped(envelope));
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
      // Not awaited when aborted: a generator stuck in its own await would hold the connection's teardown.
      const returned = iterator.return?.();
      if (returned) returned.catch((cause: unknown) => this.report(getTRPCErrorFromUnknown(cause), 'subscription', context.path));
    }
    this.send(this.config.wire.stopped(envelope));
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.paramsTimer) clearTimeout(this.paramsTimer);
    for (const call of this.calls.values()) call.controller.abort();
    this.calls.clear();
    this.config.onClosed(this);
  }

  private sendError(envelope: Envelope, error: TRPCError, context: ErrorContext): void {
    this.send(this.config.wire.error(envelope, error, context, (cause) => this.report(cause, context.type)));
  }

  private report(error: unknown, type: string, path?: string): void {
    this.config.onError?.({ error: error instanceof Error ? error : new Error(String(error)), path, type });
  }
}

const SKIPPED = Symbol('skipped');
/** Memo key of a shared event's serialized data; envelopes (`"id":…`) cannot collide with it. */
const TRACKED_DATA = 'tracked-data';
const unknownContext: ErrorContext = { type: 'unknown', path: undefined, input: undefined, ctx: undefined };

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
