import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getErrorShape, getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { getHTTPStatusCodeFromError, parseConnectionParamsFromString, type TRPCRequestInfo } from '@trpc/server/http';
import { CONNECTION_PARAMS_HEADER, CREDENTIALS_EXPIRY_HEADER, IDEMPOTENCY_KEY_HEADER, STREAM_TICKET_PARAM, STREAM_TICKET_PATH } from '@herald/shared/internal';
import type { ServerConfig } from '../config.js';
import { HeraldError, RefusalReason } from '../errors.js';
import type { ServerMetrics } from '../observability/metrics.js';
import { stringParams, type Admission, type ConnectionParams } from '../transport/admission.js';
import { clientAddress, type ProxyHeaderWarning } from '../transport/clientAddress.js';
import { idempotencyKeyFrom, type IdempotentCalls } from '../transport/idempotentCall.js';
import { StreamTickets } from '../transport/streamTickets.js';

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
 * - the same `createContext({ connectionParams, req })`, with the
 *   `connectionParams` a request carries (see `connectionParamsOf`), or the
 *   ones an event stream's single-use ticket stands for (`?ticket=`, issued
 *   at `POST <httpPath>/_herald/ticket` for EventSources that cannot send
 *   headers; see `StreamTickets`);
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
  core: {
    readonly admission: Admission;
    readonly idempotentCalls: IdempotentCalls;
    readonly proxyWarning: ProxyHeaderWarning;
    readonly metrics: ServerMetrics;
  },
  isClosing: () => boolean,
): TrpcHttpHandler | null {
  const prefix = config.httpPath;
  if (prefix === null) return null;
  if (STREAM_TICKET_PATH in (config.router._def.procedures as object)) {
    throw new Error(`The router has a procedure at ${STREAM_TICKET_PATH}, the path Herald serves stream tickets at over HTTP; rename it`);
  }
  const router = withSseDefaults(config.router, config.heartbeat);
  const { admission, idempotentCalls, proxyWarning, metrics } = core;
  // In the broker's store when there is one, so a ticket issued here is redeemed on any node.
  const tickets = new StreamTickets(config.idempotency.store);
  const { maxPayloadBytes, maxBatchSize, maxSubscriptionsPerConnection: maxStreamsPerClient } = config.limits;
  const streamsByClient = new Map<string, number>();
  /** Open SSE responses by user key, for `disconnectUser`. */
  const streamsByUser = new Map<string, Set<ServerResponse>>();
  let streamCount = 0;

  const report = (error: unknown, type: string, path: string | undefined) =>
    config.onError?.({ error: error instanceof Error ? error : new Error(String(error)), path, type });

  /**
   * Runs tRPC's node-http adapter; `refusal` answers the request with that
   * error instead of calling anything. `params` are the stream's credentials
   * when they were read already (a redeemed ticket); otherwise the request's own.
   */
  function runAdapter(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    options: { refusal?: TRPCError | null; ctx?: { value: unknown }; stream?: boolean; params?: { value: ConnectionParams | null } } = {},
  ): Promise<void> {
    const { refusal, ctx, stream, params } = options;
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
        const admitted = await admission.contextFor(
          params ? params.value : connectionParamsOf(req, info.connectionParams),
          req,
          clientAddress(req, config.trustProxy),
        );
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

  /** A stream slot for this client (its address and credentials), or null when it holds its limit already. */
  function acquireStream(req: IncomingMessage, params: ConnectionParams | null): (() => void) | null {
    const key = `${clientAddress(req, config.trustProxy)}|${JSON.stringify(params)}`;
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

  /**
   * The HTTP heartbeat, `HEAD <httpPath>`: 204 while the server serves. With
   * credentials, it also says when they expire (the HTTP side's session
   * notice), so the client refreshes them in time; credentials it refuses
   * get no such header (the next call carries the refusal).
   */
  async function answerHeartbeat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    try {
      const params = connectionParamsOf(req, null);
      if (params) {
        const { expiresAt } = await admission.authenticate(params, req, clientAddress(req, config.trustProxy));
        if (expiresAt !== null) headers[CREDENTIALS_EXPIRY_HEADER] = String(Math.max(0, expiresAt - Date.now()));
      }
    } catch {
      // Refused or unreadable credentials: the heartbeat still answers; a call will say why.
    }
    res.writeHead(204, headers).end();
  }

  async function serve(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
    // The ticket path is Herald's, not a procedure: its refusals are written here rather than by tRPC's adapter.
    const refuse = (error: TRPCError): Promise<void> =>
      path === STREAM_TICKET_PATH ? Promise.resolve(writeError(res, error, path)) : runAdapter(req, res, path, { refusal: error });
    if (isClosing()) {
      if (req.method === 'HEAD') {
        res.writeHead(503, { 'cache-control': 'no-store' }).end();
        return;
      }
      await refuse(new HeraldError('SERVER_CLOSING', 'The server is shutting down; reconnect'));
      return;
    }
    proxyWarning.check(req);
    const origin = req.headers.origin;
    if (config.originAllowed && origin !== undefined && !config.originAllowed(origin, req)) {
      await refuse(new HeraldError('FORBIDDEN', `Origin ${origin} may not call this server; add it to the server's allowedOrigins`));
      return;
    }
    if (!admission.mayAuthenticate(clientAddress(req, config.trustProxy))) {
      await refuse(new HeraldError('LIMIT_EXCEEDED', 'Too many failed authentications from this address; sign in again and retry later'));
      return;
    }
    if (req.method === 'HEAD' && path === '') return answerHeartbeat(req, res);
    const batchSize = path === '' ? 0 : path.split(',').length;
    if (batchSize > maxBatchSize) {
      await runAdapter(req, res, path, {
        refusal: new HeraldError('LIMIT_EXCEEDED', `A request may batch at most ${maxBatchSize} calls; send smaller batches`),
      });
      return;
    }
    if (path === STREAM_TICKET_PATH) return serveTicket(req, res, path);
    if (isEventStreamRequest(router, req, path)) {
      let params: ConnectionParams | null;
      try {
        params = await streamParams(req, url);
      } catch (cause) {
        // Refused with its HTTP status (401), not as an error event in a 200 stream: an
        // EventSource then gives up on the URL, and Herald's client reconnects with a new ticket.
        writeError(res, getTRPCErrorFromUnknown(cause), path);
        return;
      }
      const release = acquireStream(req, params);
      if (!release) {
        await runAdapter(req, res, path, {
          refusal: new HeraldError('LIMIT_EXCEEDED', `A client may hold at most ${maxStreamsPerClient} subscriptions; close one first`),
        });
        return;
      }
      // `close` comes for a finished response and for a client that left; `finish` may not.
      res.once('close', release);
      await runAdapter(req, res, path, { stream: true, params: { value: params } });
      return;
    }
    const key = req.method === 'POST' ? idempotencyKeyOf(req) : null;
    if (key) return serveOnce(req, res, path, url, key);
    await runAdapter(req, res, path);
  }

  /** Answers with `error` as tRPC's HTTP protocol does (its status, its error shape), unless an answer has begun. */
  function writeError(res: ServerResponse, error: TRPCError, path: string): void {
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(getHTTPStatusCodeFromError(error), { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(serializedError(router, error, path, undefined, report)));
  }

  /**
   * `POST <httpPath>/_herald/ticket`: the credentials in the request's
   * headers, authenticated (a refusal counts against the address), for a
   * single-use ticket an event stream's URL can carry instead of them.
   */
  async function serveTicket(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'cache-control': 'no-store' }).end();
      return;
    }
    let params: ConnectionParams | null;
    try {
      params = connectionParamsOf(req, null);
      if (!params) {
        throw new HeraldError('UNAUTHORIZED', `A stream ticket stands for credentials: send them in the ${CONNECTION_PARAMS_HEADER} header`);
      }
      await admission.authenticate(params, req, clientAddress(req, config.trustProxy));
    } catch (cause) {
      writeError(res, getTRPCErrorFromUnknown(cause), path);
      return;
    }
    const issued = await tickets.issue(params);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(issued));
  }

  /**
   * An event stream's credentials: the ones its ticket stands for (redeemed
   * here, once; a refused ticket counts as a failed authentication of the
   * address), else the request's own (`connectionParamsOf`).
   */
  async function streamParams(req: IncomingMessage, url: URL): Promise<ConnectionParams | null> {
    const ticket = url.searchParams.get(STREAM_TICKET_PARAM);
    if (ticket === null) return connectionParamsOf(req, queryConnectionParams(url));
    const redeemed = await tickets.redeem(ticket);
    if (redeemed.ok) return redeemed.params;
    admission.countFailure(clientAddress(req, config.trustProxy));
    metrics.refusal(RefusalReason.STREAM_TICKET);
    throw new HeraldError(
      'UNAUTHORIZED',
      redeemed.reason === 'used'
        ? 'This stream ticket was used already: get a new ticket for each connection'
        : 'Unknown or expired stream ticket: get a new ticket for each connection',
    );
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
        writeError(res, error, path);
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
 * What `createContext` gets over HTTP, from the first of:
 *
 * 1. the `Herald-Connection-Params` header (percent-encoded JSON), which
 *    Herald's client sends on every request: all `connectionParams`, and
 *    none of them in a URL;
 * 2. `fromUrl`, the `?connectionParams=` of an event stream (tRPC's
 *    `httpSubscriptionLink` protocol, kept for stock tRPC clients);
 * 3. `{ token }` from `Authorization: Bearer <token>`;
 *
 * else null. A header that does not parse is refused (`PARSE_ERROR`).
 */
export function connectionParamsOf(
  req: IncomingMessage,
  fromUrl: Readonly<Record<string, string | undefined>> | null,
): ConnectionParams | null {
  const header = req.headers[CONNECTION_PARAMS_HEADER];
  if (typeof header === 'string') return headerConnectionParams(header);
  if (fromUrl) return stringParams(fromUrl);
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1] ? { token: match[1] } : null;
}

function headerConnectionParams(value: string): ConnectionParams | null {
  let json: string;
  try {
    json = decodeURIComponent(value);
  } catch (cause) {
    throw new TRPCError({ code: 'PARSE_ERROR', message: `The ${CONNECTION_PARAMS_HEADER} header is not percent-encoded JSON`, cause });
  }
  return stringParams(parseConnectionParamsFromString(json));
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
