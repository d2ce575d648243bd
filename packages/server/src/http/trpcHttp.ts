import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getErrorShape, getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { getHTTPStatusCodeFromError, parseConnectionParamsFromString, type TRPCRequestInfo } from '@trpc/server/http';
import { IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import type { ServerConfig } from '../config.js';
import { HeraldError } from '../errors.js';
import { stringParams, type Admission, type ConnectionParams } from '../transport/admission.js';
import { clientAddress, type ProxyHeaderWarning } from '../transport/clientAddress.js';
import { idempotencyKeyFrom, type IdempotentCalls } from '../transport/idempotentCall.js';

export interface TrpcHttpHandler {
  /** Serves `req` when its path is under the prefix (answering it, now or later); false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Server-Sent Events streams open now. */
  readonly streamCount: number;
  /** Ends the SSE streams of the user `userKey` (its other requests are answered per request anyway). */
  disconnectUser(userKey: string): void;
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
export function createTrpcHttpHandler<TRouter extends AnyRouter>(
  config: ServerConfig<TRouter>,
  core: { readonly admission: Admission; readonly idempotentCalls: IdempotentCalls; readonly proxyWarning: ProxyHeaderWarning },
  isClosing: () => boolean,
): TrpcHttpHandler | null {
  const prefix = config.httpPath;
  if (prefix === null) return null;
  const router = withSseDefaults(config.router, config.heartbeat);
  const { admission, idempotentCalls, proxyWarning } = core;
  const { maxPayloadBytes, maxBatchSize, maxSubscriptionsPerConnection: maxStreamsPerClient } = config.limits;
  const streamsByClient = new Map<string, number>();
  /** Open SSE responses by user key, for `disconnectUser`. */
  const streamsByUser = new Map<string, Set<ServerResponse>>();
  let streamCount = 0;

  const report = (error: unknown, type: string, path: string | undefined) =>
    config.onError?.({ error: error instanceof Error ? error : new Error(String(error)), path, type });

  /** Runs tRPC's node-http adapter; `refusal` answers the request with that error instead of calling anything. */
  function runAdapter(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    options: { refusal?: TRPCError | null; ctx?: { value: unknown }; stream?: boolean } = {},
  ): Promise<void> {
    const { refusal, ctx, stream } = options;
    return nodeHTTPRequestHandler({
      router,
      req,
      res,
      path,
      maxBodySize: maxPayloadBytes,
      // The batch bound is checked before (LIMIT_EXCEEDED, as over WebSocket), on the same count of paths.
      ...(refusal ? { middleware: (_req: unknown, _res: unknown, next: (error?: unknown) => void) => next(refusal) } : {}),
      // A refused request calls nothing, so it needs no context (nor an `authenticate` run).
      createContext: async ({ info }: { info: TRPCRequestInfo }) => {
        if (ctx) return ctx.value;
        if (refusal) return undefined;
        const admitted = await admission.contextFor(connectionParamsOf(req, info.connectionParams), req, clientAddress(req, config.trustProxy));
        if (stream) {
          const { identity } = admitted;
          if (identity.expiresAt !== null) endStreamAt(res, identity.expiresAt + config.auth.expiryGraceMs);
          const userKey = admission.userKeyOf(identity.user);
          if (userKey !== null) trackUserStream(userKey, res);
        }
        return admitted.ctx;
      },
      onError: ({ error, type, path: errorPath }) => report(error, type, errorPath),
    });
  }

  function trackUserStream(userKey: string, res: ServerResponse): void {
    let streams = streamsByUser.get(userKey);
    if (!streams) streamsByUser.set(userKey, (streams = new Set()));
    streams.add(res);
    res.once('close', () => {
      streams.delete(res);
      if (streams.size === 0 && streamsByUser.get(userKey) === streams) streamsByUser.delete(userKey);
    });
  }

  /** A stream slot for this client, or null when it holds its limit already. */
  function acquireStream(req: IncomingMessage, url: URL): (() => void) | null {
    const credential = url.searchParams.get('connectionParams') ?? req.headers.authorization ?? '';
    const key = `${clientAddress(req, config.trustProxy)}|${credential}`;
    const held = streamsByClient.get(key) ?? 0;
    if (held >= maxStreamsPerClient) return null;
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
   * A mutation with an `Idempotency-Key` runs once per key, in the same
   * store and under the same key as over WebSocket (see `IdempotentCalls`):
   * the first attempt runs through the adapter into a captured response, its
   * outcome is stored in the transport-neutral form, and every repeat, over
   * either transport, gets that outcome.
   */
  async function serveOnce(req: IncomingMessage, res: ServerResponse, path: string, url: URL, key: string): Promise<void> {
    const batch = url.searchParams.get('batch') === '1';
    if (path.includes(',')) {
      await runAdapter(req, res, path, {
        refusal: new TRPCError({ code: 'BAD_REQUEST', message: 'An Idempotency-Key covers one mutation: send a batch of one, or no batch' }),
      });
      return;
    }
    let ctx: unknown;
    try {
      ctx = (await admission.contextFor(connectionParamsOf(req, queryConnectionParams(url)), req, clientAddress(req, config.trustProxy))).ctx;
    } catch {
      // Refused credentials: let the adapter call createContext again and answer with its error.
      await runAdapter(req, res, path);
      return;
    }
    let answer: { outcome: string; replayed: boolean };
    try {
      answer = await idempotentCalls.run(ctx, path, key, async () => {
        const captured = new CapturedResponse();
        await runAdapter(req, captured as unknown as ServerResponse, path, { ctx: { value: ctx } });
        return outcomeOf(captured) ?? fallbackOutcome(router, path, ctx, report);
      });
    } catch (cause) {
      await runAdapter(req, res, path, { refusal: getTRPCErrorFromUnknown(cause) });
      return;
    }
    writeOutcome(router, res, answer.outcome, batch, answer.replayed);
  }

  async function serve(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
    if (isClosing()) {
      if (req.method === 'HEAD') {
        res.writeHead(503, { 'cache-control': 'no-store' }).end();
        return;
      }
      await runAdapter(req, res, path, { refusal: new HeraldError('SERVER_CLOSING', 'The server is shutting down; reconnect') });
      return;
    }
    proxyWarning.check(req);
    const origin = req.headers.origin;
    if (config.originAllowed && origin !== undefined && !config.originAllowed(origin, req)) {
      await runAdapter(req, res, path, {
        refusal: new HeraldError('FORBIDDEN', `Origin ${origin} may not call this server; add it to the server's allowedOrigins`),
      });
      return;
    }
    if (!admission.mayAuthenticate(clientAddress(req, config.trustProxy))) {
      await runAdapter(req, res, path, {
        refusal: new HeraldError('LIMIT_EXCEEDED', 'Too many failed authentications from this address; sign in again and retry later'),
      });
      return;
    }
    const batchSize = path === '' ? 0 : path.split(',').length;
    if (batchSize > maxBatchSize) {
      await runAdapter(req, res, path, {
        refusal: new HeraldError('LIMIT_EXCEEDED', `A request may batch at most ${maxBatchSize} calls; send smaller batches`),
      });
      return;
    }
    if (isEventStreamRequest(router, req, path)) {
      const release = acquireStream(req, url);
      if (!release) {
        await runAdapter(req, res, path, {
          refusal: new HeraldError('LIMIT_EXCEEDED', `A client may hold at most ${maxStreamsPerClient} subscriptions; close one first`),
        });
        return;
      }
      // `close` comes for a finished response and for a client that left; `finish` may not.
      res.once('close', release);
      await runAdapter(req, res, path, { stream: true });
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
    disconnectUser(userKey) {
      for (const res of streamsByUser.get(userKey) ?? []) res.destroy();
    },
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const { pathname } = url;
      if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return false;
      const path = pathname.slice(prefix.length + 1);
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
 * Ends an SSE response when its credentials expire: the client's
 * EventSource reconnects with fresh credentials and `Last-Event-ID`, so the
 * stream resumes where it stopped. The timer goes with the response.
 */
function endStreamAt(res: ServerResponse, at: number): void {
  const timer = setTimeout(() => res.destroy(), Math.max(0, at - Date.now()));
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}

/**
 * The router with SSE pings every `pingIntervalMs` and a client inactivity
 * timeout of `pingIntervalMs + pongTimeoutMs`, unless the app set either: a
 * view sharing the router's procedures, so nothing about the WebSocket side
 * changes.
 */
function withSseDefaults<TRouter extends AnyRouter>(router: TRouter, heartbeat: ServerConfig['heartbeat']): TRouter {
  const config = router._def._config;
  if (config.sse?.ping || config.sse?.client) return router;
  const sse = {
    ...config.sse,
    ping: { enabled: true, intervalMs: heartbeat.pingIntervalMs },
    client: { reconnectAfterInactivityMs: heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs },
  };
  return { ...router, _def: { ...router._def, _config: { ...config, sse } } };
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
  if (fromRequest) return stringParams(fromRequest);
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

function idempotencyKeyOf(req: IncomingMessage): string | null {
  const value = req.headers[IDEMPOTENCY_KEY_HEADER];
  return idempotencyKeyFrom(Array.isArray(value) ? value[0] : value);
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
