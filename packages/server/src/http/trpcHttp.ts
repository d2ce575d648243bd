import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getErrorShape, getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { getHTTPStatusCodeFromError, parseConnectionParamsFromString, type TRPCRequestInfo } from '@trpc/server/http';
import { IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import { memoryIdempotencyStore, type IdempotencyStore } from '../brokers/idempotency.js';
import { HeraldError } from '../errors.js';
import { serverDefaults, type HeraldServerOptions } from '../options.js';

export interface TrpcHttpConfig<TRouter extends AnyRouter> {
  readonly router: TRouter;
  /** The path prefix (`/trpc`): `/trpc/<procedure>`, several joined by commas for a batch. */
  readonly prefix: string;
  readonly createContext: HeraldServerOptions<TRouter, unknown>['createContext'];
  readonly authenticate: HeraldServerOptions<TRouter, unknown>['authenticate'];
  /** Browser origins allowed (the WebSocket's `allowedOrigins`); requests with another `Origin` are refused. */
  readonly allowedOrigins: readonly string[] | ((origin: string) => boolean) | undefined;
  /** Take the client's address from `X-Forwarded-For` (for the per-client stream bound). */
  readonly trustProxy: boolean;
  readonly onError: HeraldServerOptions<TRouter>['onError'];
  readonly limits: {
    /** Largest request body (the WebSocket frame limit's counterpart). */
    readonly maxBodyBytes: number;
    /** Calls one request may batch. */
    readonly maxBatchSize: number;
    /** Server-Sent Events streams one client (remote address and credentials) may hold open at once. */
    readonly maxStreamsPerClient: number;
  };
  /** The WebSocket heartbeat's timing, reused for the SSE pings and the client's inactivity timeout. */
  readonly heartbeat: { readonly pingIntervalMs: number; readonly pongTimeoutMs: number };
  readonly idempotency: {
    readonly store: IdempotencyStore;
    readonly ttlMs: number;
    readonly waitTimeoutMs: number;
    readonly scope: ((ctx: unknown) => string | null | undefined) | undefined;
  };
  readonly isClosing: () => boolean;
}

export interface TrpcHttpHandler {
  /** Serves `req` when its path is under the prefix (answering it, now or later); false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Server-Sent Events streams open now. */
  readonly streamCount: number;
}

type ConnectionParams = Record<string, string>;

/**
 * The HTTP side of `createHeraldServer(options)`, or null when `httpPath` is
 * `false`. Settings are the WebSocket side's: `maxPayloadBytes` bounds a
 * request body, `maxBatchSize` a batch, `maxSubscriptionsPerConnection` the
 * streams one client holds, and idempotency uses the broker's store (without
 * `herald`, a memory store of its own: then a retry that switches transport
 * is not recognised).
 */
export function trpcHttpFor<TRouter extends AnyRouter, TUser>(
  options: HeraldServerOptions<TRouter, TUser>,
  isClosing: () => boolean,
): TrpcHttpHandler | null {
  const httpPath = options.httpPath ?? serverDefaults.httpPath;
  if (httpPath === false) return null;
  if (!httpPath.startsWith('/') || httpPath.length < 2) throw new TypeError(`httpPath must be a path like '/trpc', got '${httpPath}'`);
  const limits = { ...serverDefaults.limits, ...options.limits };
  return createTrpcHttpHandler({
    router: options.router,
    prefix: httpPath.replace(/\/+$/, ''),
    createContext: options.createContext as HeraldServerOptions<TRouter, unknown>['createContext'],
    authenticate: options.authenticate as HeraldServerOptions<TRouter, unknown>['authenticate'],
    allowedOrigins: options.allowedOrigins,
    trustProxy: options.trustProxy ?? false,
    onError: options.onError,
    limits: {
      maxBodyBytes: limits.maxPayloadBytes,
      maxBatchSize: limits.maxBatchSize,
      maxStreamsPerClient: limits.maxSubscriptionsPerConnection,
    },
    heartbeat: { ...serverDefaults.heartbeat, ...options.heartbeat },
    idempotency: {
      store: options.herald?.broker.idempotency ?? memoryIdempotencyStore(),
      ttlMs: options.idempotency?.ttlMs ?? serverDefaults.idempotency.ttlMs,
      waitTimeoutMs: options.idempotency?.waitTimeoutMs ?? serverDefaults.idempotency.waitTimeoutMs,
      scope: options.idempotency?.scope,
    },
    isClosing,
  });
}

/**
 * The router over plain HTTP, for networks that strip WebSocket upgrades:
 * tRPC's own HTTP protocol through its node-http adapter (batched queries
 * and mutations as `httpBatchLink`/`httpLink` send them, subscriptions as
 * Server-Sent Events as `httpSubscriptionLink` reads them), with what the
 * WebSocket side adds:
 *
 * - the same `createContext({ connectionParams, req })`: `connectionParams`
 *   are the ones an SSE request carries (`?connectionParams=`, tRPC's way),
 *   else `{ token }` from an `Authorization: Bearer <token>` header, else null;
 * - the same limits: body size (`maxPayloadBytes`), batch size, and
 *   concurrent streams per client (`maxSubscriptionsPerConnection`);
 * - mutations sent with an `Idempotency-Key` header run once per key, in the
 *   same store and under the same key as over WebSocket, so a retry that
 *   switched transport still gets the first outcome;
 * - SSE pings (unless the router configures `sse` itself) at the heartbeat
 *   interval, and a client inactivity timeout, so proxies keep idle streams
 *   open and clients notice dead ones;
 * - `SERVER_CLOSING` while the server shuts down.
 *
 * Channel streams go out as they are: their tracked ids become SSE `id:`
 * lines, and a reconnecting EventSource's `Last-Event-ID` becomes the
 * subscription's `lastEventId`.
 */
export function createTrpcHttpHandler<TRouter extends AnyRouter>(config: TrpcHttpConfig<TRouter>): TrpcHttpHandler {
  const router = withSseDefaults(config.router, config.heartbeat);
  const streamsByClient = new Map<string, number>();
  let streamCount = 0;

  const report = (error: unknown, type: string, path: string | undefined) =>
    config.onError?.({ error: error instanceof Error ? error : new Error(String(error)), path, type });

  const originAllowed = originCheck(config.allowedOrigins);

  /** As over WebSocket: `authenticate` decides the user, then `createContext` builds the context. */
  async function contextFor(req: IncomingMessage, params: ConnectionParams | null): Promise<unknown> {
    let user: unknown = null;
    if (config.authenticate) {
      try {
        user = (await config.authenticate(params, req)) ?? null;
      } catch (cause) {
        if (!(cause instanceof TRPCError)) report(cause, 'authenticate', undefined);
        throw authenticationError(cause);
      }
    }
    return config.createContext({ connectionParams: params, req, user });
  }

  /** Runs tRPC's node-http adapter; `refusal` answers the request with that error instead of calling anything. */
  function runAdapter(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    options: { refusal?: TRPCError | null; ctx?: { value: unknown } } = {},
  ): Promise<void> {
    const { refusal, ctx } = options;
    return nodeHTTPRequestHandler({
      router,
      req,
      res,
      path,
      maxBodySize: config.limits.maxBodyBytes,
      // The batch bound is checked before (LIMIT_EXCEEDED, as over WebSocket), on the same count of paths.
      ...(refusal ? { middleware: (_req: unknown, _res: unknown, next: (error?: unknown) => void) => next(refusal) } : {}),
      // A refused request calls nothing, so it needs no context (nor an `authenticate` run).
      createContext: async ({ info }: { info: TRPCRequestInfo }) =>
        ctx ? ctx.value : refusal ? undefined : contextFor(req, connectionParamsOf(req, info.connectionParams)),
      onError: ({ error, type, path: errorPath }) => report(error, type, errorPath),
    });
  }

  /** A stream slot for this client, or null when it holds its limit already. */
  function acquireStream(req: IncomingMessage, url: URL): (() => void) | null {
    const credential = url.searchParams.get('connectionParams') ?? req.headers.authorization ?? '';
    const key = `${clientIp(req, config.trustProxy)}|${credential}`;
    const held = streamsByClient.get(key) ?? 0;
    if (held >= config.limits.maxStreamsPerClient) return null;
    streamsByClient.set(key, held + 1);
    streamCount++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      streamCount--;
      const left = (streamsByClient.get(key) ?? 1) - 1;
      if (left <= 0) streamsByClient.delete(key);
      else streamsByClient.set(key, left);
    };
  }

  /**
   * A mutation with an `Idempotency-Key` runs once per key (as `answerOnce`
   * does over WebSocket): the first attempt runs through the adapter into a
   * captured response, its outcome is stored in the transport-neutral form
   * the WebSocket side stores, and every repeat, over either transport,
   * gets that outcome. The run is not cancelled when the client goes away,
   * so the outcome is there for the retry.
   */
  async function serveOnce(req: IncomingMessage, res: ServerResponse, path: string, url: URL, key: string): Promise<void> {
    const batch = url.searchParams.get('batch') === '1';
    if (path.includes(',')) {
      await runAdapter(req, res, path, {
        refusal: new TRPCError({ code: 'BAD_REQUEST', message: 'An Idempotency-Key covers one mutation: send a batch of one, or no batch' }),
      });
      return;
    }
    const params = connectionParamsOf(req, queryConnectionParams(url));
    let ctx: unknown;
    try {
      ctx = await contextFor(req, params);
    } catch {
      // Refused credentials: let the adapter call createContext again and answer with its error.
      await runAdapter(req, res, path);
      return;
    }
    const { store, ttlMs, waitTimeoutMs, scope } = config.idempotency;
    const storeKey = `${scope?.(ctx) ?? ''}|${path}|${key}`;
    const claim = await store.claim(storeKey, ttlMs);
    let outcome: string;
    if (claim.state === 'done') {
      outcome = claim.outcome;
    } else if (claim.state === 'pending') {
      const waited = await store.wait(storeKey, waitTimeoutMs);
      if (waited === null) {
        await runAdapter(req, res, path, {
          refusal: new TRPCError({ code: 'TIMEOUT', message: 'The first attempt of this mutation is still running; retry later with the same key' }),
        });
        return;
      }
      outcome = waited;
    } else {
      const captured = new CapturedResponse();
      await runAdapter(req, captured as unknown as ServerResponse, path, { ctx: { value: ctx } });
      outcome = outcomeOf(captured) ?? fallbackOutcome(router, path, ctx, report);
      await store.complete(storeKey, outcome, ttlMs);
      writeOutcome(router, res, outcome, batch, false);
      return;
    }
    writeOutcome(router, res, outcome, batch, true);
  }

  async function serve(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
    if (config.isClosing()) {
      if (req.method === 'HEAD') {
        res.writeHead(503, { 'cache-control': 'no-store' }).end();
        return;
      }
      await runAdapter(req, res, path, { refusal: new HeraldError('SERVER_CLOSING', 'The server is shutting down; reconnect') });
      return;
    }
    const origin = req.headers.origin;
    if (originAllowed && origin !== undefined && !originAllowed(origin)) {
      await runAdapter(req, res, path, { refusal: new HeraldError('FORBIDDEN', `Origin ${origin} may not call this server`) });
      return;
    }
    const batchSize = path === '' ? 0 : path.split(',').length;
    if (batchSize > config.limits.maxBatchSize) {
      await runAdapter(req, res, path, {
        refusal: new HeraldError('LIMIT_EXCEEDED', `A request may batch at most ${config.limits.maxBatchSize} calls`),
      });
      return;
    }
    if (isEventStreamRequest(router, req, path)) {
      const release = acquireStream(req, url);
      if (!release) {
        await runAdapter(req, res, path, {
          refusal: new HeraldError('LIMIT_EXCEEDED', `A client may hold at most ${config.limits.maxStreamsPerClient} subscriptions`),
        });
        return;
      }
      // `close` comes for a finished response and for a client that left; `finish` may not.
      res.once('close', release);
      await runAdapter(req, res, path);
      return;
    }
    const key = req.method === 'POST' ? idempotencyKeyOf(req) : null;
    if (key) return serveOnce(req, res, path, url, key);
    await runAdapter(req, res, path);
  }

  return {
    get streamCount() {
      return streamCount;
    },
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const { pathname } = url;
      if (pathname !== config.prefix && !pathname.startsWith(`${config.prefix}/`)) return false;
      const path = pathname.slice(config.prefix.length + 1);
      serve(req, res, path, url).catch((cause: unknown) => {
        const error = getTRPCErrorFromUnknown(cause);
        report(error, 'http', path);
        if (!res.headersSent) {
          res.writeHead(getHTTPStatusCodeFromError(error), { 'content-type': 'application/json' });
          res.end(JSON.stringify(serializedError(router, error, path, undefined, report)));
        } else {
          res.end();
        }
      });
      return true;
    },
  };
}

/**
 * The router with SSE pings every `pingIntervalMs` and a client inactivity
 * timeout of `pingIntervalMs + pongTimeoutMs`, unless the app set either: a
 * view sharing the router's procedures, so nothing about the WebSocket side
 * changes.
 */
function withSseDefaults<TRouter extends AnyRouter>(router: TRouter, heartbeat: TrpcHttpConfig<TRouter>['heartbeat']): TRouter {
  const config = router._def._config;
  if (config.sse?.ping || config.sse?.client) return router;
  const sse = {
    ...config.sse,
    ping: { enabled: true, intervalMs: heartbeat.pingIntervalMs },
    client: { reconnectAfterInactivityMs: heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs },
  };
  return { ...router, _def: { ...router._def, _config: { ...config, sse } } };
}

/** What a refused `authenticate` tells the client: a TRPCError's message, else nothing internal. */
function authenticationError(cause: unknown): TRPCError {
  if (cause instanceof HeraldError && cause.heraldCode === 'UNAUTHORIZED') return cause;
  if (cause instanceof TRPCError) return new HeraldError('UNAUTHORIZED', cause.message, { cause });
  return new HeraldError('UNAUTHORIZED', 'Authentication failed', { cause });
}

/** Origins compare case-insensitively, without a trailing slash. */
function originCheck(allowed: readonly string[] | ((origin: string) => boolean) | undefined): ((origin: string) => boolean) | null {
  if (allowed === undefined) return null;
  if (typeof allowed === 'function') return allowed;
  const normalize = (origin: string) => origin.trim().replace(/\/+$/, '').toLowerCase();
  const set = new Set(allowed.map(normalize));
  return (origin) => set.has(normalize(origin));
}

function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * A request tRPC will answer with an event stream: a GET of a subscription
 * (EventSource also asks for `text/event-stream`, which covers procedures of
 * lazy routers not loaded yet; tRPC's other links never do).
 */
function isEventStreamRequest(router: AnyRouter, req: IncomingMessage, path: string): boolean {
  if (req.method !== 'GET') return false;
  const procedure = (router._def.procedures as Record<string, { _def?: { type?: string } } | undefined>)[path];
  return procedure?._def?.type === 'subscription' || (req.headers.accept ?? '').includes('text/event-stream');
}

/**
 * What `createContext` gets over HTTP: the `connectionParams` the request
 * carries (an SSE request from `httpSubscriptionLink` puts them in the URL),
 * else `{ token }` from `Authorization: Bearer <token>`, else null.
 */
export function connectionParamsOf(
  req: IncomingMessage,
  fromRequest: Readonly<Record<string, string | undefined>> | null,
): ConnectionParams | null {
  if (fromRequest) {
    const params: ConnectionParams = {};
    for (const [key, value] of Object.entries(fromRequest)) if (typeof value === 'string') params[key] = value;
    return params;
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1] ? { token: match[1] } : null;
}

function queryConnectionParams(url: URL): Record<string, string | undefined> | null {
  const raw = url.searchParams.get('connectionParams');
  if (raw === null) return null;
  try {
    return parseConnectionParamsFromString(raw);
  } catch {
    return null;
  }
}

/** The same bounds the WebSocket side puts on `params.idempotencyKey`. */
function idempotencyKeyOf(req: IncomingMessage): string | null {
  const value = req.headers[IDEMPOTENCY_KEY_HEADER];
  const key = Array.isArray(value) ? value[0] : value;
  return typeof key === 'string' && key.length > 0 && key.length <= 128 ? key : null;
}

/**
 * Outcomes are stored as the WebSocket side stores them, a response without
 * its envelope: `"result":{"type":"data","data":…}` or `"error":…`, with data
 * and error shape already serialized by the router's transformer.
 */
function outcomeOf(captured: CapturedResponse): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(captured.text());
  } catch {
    return null;
  }
  const item = (Array.isArray(parsed) ? parsed[0] : parsed) as { result?: { data?: unknown }; error?: unknown } | undefined;
  if (item?.result) {
    return item.result.data === undefined ? '"result":{"type":"data"}' : `"result":{"type":"data","data":${JSON.stringify(item.result.data)}}`;
  }
  if (item?.error !== undefined) return `"error":${JSON.stringify(item.error)}`;
  return null;
}

function fallbackOutcome(router: AnyRouter, path: string, ctx: unknown, report: (error: unknown, type: string, path: string) => void): string {
  const error = new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'The mutation produced no response' });
  report(error, 'mutation', path);
  return `"error":${JSON.stringify(serializedError(router, error, path, ctx, report).error)}`;
}

/** Answers with a stored outcome, as `httpLink` (one call) or `httpBatchLink` (a batch of one) expects it. */
function writeOutcome(router: AnyRouter, res: ServerResponse, outcome: string, batch: boolean, replayed: boolean): void {
  const stored = JSON.parse(`{${outcome}}`) as { result?: { data?: unknown }; error?: unknown };
  let status = 200;
  let item: unknown;
  if (stored.error !== undefined) {
    item = { error: stored.error };
    const shape = router._def._config.transformer.output.deserialize(stored.error) as { data?: { httpStatus?: unknown } } | null;
    status = typeof shape?.data?.httpStatus === 'number' ? shape.data.httpStatus : 500;
  } else {
    item = { result: stored.result && 'data' in stored.result ? { data: stored.result.data } : {} };
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', vary: 'trpc-accept, accept' };
  if (replayed) headers['idempotent-replayed'] = 'true';
  res.writeHead(status, headers);
  res.end(JSON.stringify(batch ? [item] : item));
}

function serializedError(
  router: AnyRouter,
  error: TRPCError,
  path: string,
  ctx: unknown,
  report: (error: unknown, type: string, path: string) => void,
): { error: unknown } {
  const config = router._def._config;
  try {
    return { error: config.transformer.output.serialize(getErrorShape({ config, error, type: 'mutation', path, input: undefined, ctx })) };
  } catch (cause) {
    report(cause, 'mutation', path);
    return {
      error: config.transformer.output.serialize({
        code: -32603,
        message: 'Internal server error',
        data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
      }),
    };
  }
}

/**
 * The parts of a `ServerResponse` tRPC's node-http adapter uses, kept in
 * memory: the first attempt of an idempotent mutation is answered here, so
 * its outcome can be stored before it goes to the client.
 */
class CapturedResponse extends EventEmitter {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  private readonly headers = new Map<string, string | string[]>();
  private readonly chunks: Buffer[] = [];

  setHeader(name: string, value: string | string[]): this {
    this.headers.set(name.toLowerCase(), value);
    return this;
  }

  getHeader(name: string): string | string[] | undefined {
    return this.headers.get(name.toLowerCase());
  }

  write(chunk: string | Uint8Array): boolean {
    this.headersSent = true;
    this.chunks.push(Buffer.from(chunk));
    return true;
  }

  end(chunk?: string | Uint8Array): this {
    if (this.writableEnded) return this;
    if (chunk !== undefined) this.write(chunk);
    this.headersSent = true;
    this.writableEnded = true;
    this.emit('finish');
    return this;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
