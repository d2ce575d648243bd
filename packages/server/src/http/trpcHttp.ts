import type { IncomingMessage, ServerResponse } from 'node:http';
import { getTRPCErrorFromUnknown, type AnyRouter, type TRPCError } from '@trpc/server';
import { CREDENTIALS_EXPIRY_HEADER, STREAM_TICKET_PATH } from '@herald/shared/internal';
import type { CallRunner } from '../calls/runner.js';
import type { ServerConfig } from '../config.js';
import { HeraldError, RefusalReason } from '../errors.js';
import { traceOfHeaders, tracingActive, withRequestTrace } from '../observability/tracing.js';
import type { ConnectionParams } from '../transport/admission.js';
import { clientAddress, type ProxyHeaderWarning } from '../transport/clientAddress.js';
import { newConnectionId, notAdmittedError, type RequestGate } from '../transport/gate.js';
import { InputLimitError } from '../transport/inputLimits.js';
import { AnswerMeter, isAnswerRefusal } from './answerMeter.js';
import { errorAnswer, type HttpShapes } from './answers.js';
import { connectionParamsOf, queryConnectionParams } from './connectionParams.js';
import { Cors } from './cors.js';
import { EventStreams, isEventStreamRequest } from './eventStreams.js';
import type { HttpExchange } from './exchange.js';
import { fetchExchange, type AdapterSettings } from './fetchExchange.js';
import { idempotencyKeyOf, serveIdempotent } from './idempotentHttp.js';
import { nodeExchange } from './nodeExchange.js';
import { routerForHttp } from './routerView.js';

export interface TrpcHttpHandler {
  /** Serves `req` when its path is under the prefix (answering it, now or later); false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Serves a fetch `Request` whose path is under the prefix, from the
   * client at `address`, through the same steps as `handle`; resolves with
   * its `Response` (an event stream's body stays open), or null for any other path.
   */
  fetch(request: Request, address: string): Promise<Response> | null;
  /** Server-Sent Events streams open now. */
  readonly streamCount: number;
  /** Ends the SSE streams of the user `userKey` (its other requests are answered per request anyway). */
  disconnectUser(userKey: string, reason: string): void;
  /** Ends the fetch requests not finished yet (event streams end; their clients reconnect). */
  endFetches(): void;
  /** The event streams `matches` accepts, at most `limit` (the admin page's lookup). */
  describeStreams: EventStreams['describeStreams'];
}

/** What the HTTP door runs on: the server's gate and call runner, and the proxy-header warning. */
export interface HttpDoor<TRouter extends AnyRouter> {
  readonly gate: RequestGate;
  readonly runner: CallRunner<TRouter>;
  readonly proxyWarning: ProxyHeaderWarning;
}

/**
 * The HTTP door, for networks that strip WebSocket upgrades: tRPC's own
 * HTTP protocol through its node-http adapter (batched queries and
 * mutations as `httpBatchLink`/`httpLink` send them, subscriptions as
 * Server-Sent Events as `httpSubscriptionLink` reads them), with every
 * request through the same request gate as the WebSocket door:
 *
 * - drain (`SERVER_CLOSING`), origin and failed authentications first;
 * - then who is calling (`connectionParamsOf`, or the credentials an event
 *   stream's single-use ticket stands for), admitted as over WebSocket;
 * - the same request budget (a batch of N calls takes N), batch bound, body
 *   size (`maxPayloadBytes`), and connection slots: an event stream holds
 *   one, per address and per user, like a WebSocket (eventStreams.ts);
 * - the answers one address makes the server build and hold: calls in
 *   progress (`maxHttpCallsPerIp`), one answer's size (`maxHttpAnswerBytes`)
 *   and the bytes of its answers not yet taken (`maxHttpAnswerBytesPerIp`),
 *   counted as the answer is serialized (answerMeter.ts), and answers not
 *   taken within `httpWriteTimeoutMs` dropped (slowClients.ts);
 * - mutations sent with an `Idempotency-Key` header run through the same
 *   call runner's `once` as over WebSocket (idempotentHttp.ts);
 * - SSE pings (unless the router configures `sse` itself) at the heartbeat
 *   interval, and a client inactivity timeout;
 * - while an OpenTelemetry SDK records spans, a server span per call (each
 *   call of a batch its own) and per event stream's start and end, children
 *   of the request's `traceparent` (routerView.ts, tracedProcedures.ts).
 *
 * The adapter gets each request's context as the gate admitted it; a
 * refusal is answered by the adapter (as a middleware's error), so it has
 * tRPC's shape for single calls, batches and streams alike.
 */
export function createTrpcHttpHandler<TRouter extends AnyRouter>(config: ServerConfig<TRouter>, door: HttpDoor<TRouter>): TrpcHttpHandler | null {
  const prefix = config.httpPath;
  if (prefix === null) return null;
  if (STREAM_TICKET_PATH in (config.router._def.procedures as object)) {
    throw new Error(`The router has a procedure at ${STREAM_TICKET_PATH}, the path Herald serves stream tickets at over HTTP; rename it`);
  }
  const router = routerForHttp(door.runner.router, config.heartbeat);
  const { gate, runner, proxyWarning } = door;
  const { maxPayloadBytes } = config.limits;
  const shapes: HttpShapes = {
    outcomes: runner.outcomes,
    reportFormatterError: (error, path) => runner.report(error, { type: 'unknown', path }),
  };

  // What tRPC's adapter runs with, for the Node door's exchanges and the fetch handler's alike.
  const adapter: AdapterSettings<TRouter> = {
    router,
    endpoint: prefix,
    maxPayloadBytes,
    onError: (error, type, errorPath) => {
      // A meter's refusal was counted by the gate when it was thrown.
      if (isAnswerRefusal(error)) return;
      const limit = error instanceof InputLimitError ? error : error.cause instanceof InputLimitError ? error.cause : null;
      if (limit) gate.refuse(RefusalReason.INPUT_LIMITS, limit);
      else runner.report(error, { type: type as 'unknown', path: errorPath });
    },
  };
  const streams = new EventStreams(config, gate, shapes);
  const cors = new Cors(config.originAllowed, config.corsCredentials);

  /**
   * The HTTP heartbeat, `HEAD <httpPath>`: 204 while the server serves. With
   * credentials, it also says when they expire (the HTTP side's session
   * notice), so the client refreshes them in time; credentials it refuses
   * get no such header (the next call carries the refusal).
   */
  async function answerHeartbeat(exchange: HttpExchange): Promise<void> {
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    try {
      const params = connectionParamsOf(exchange.head, null);
      if (params) {
        const { expiresAt } = await gate.authenticate(params, exchange.request, exchange.address);
        if (expiresAt !== null) headers[CREDENTIALS_EXPIRY_HEADER] = String(Math.max(0, expiresAt - Date.now()));
      }
    } catch {
      // Refused or unreadable credentials: the heartbeat still answers; a call will say why.
    }
    exchange.answer({ status: 204, headers });
  }

  /** One request, whichever door it came through: the gate's checks in order, then the ticket, stream or call it is. */
  async function serve(exchange: HttpExchange, path: string): Promise<void> {
    const { head: req, url, address } = exchange;
    // The ticket path is Herald's, not a procedure: its refusals are written here rather than by tRPC's adapter.
    const refuse = (error: TRPCError): Promise<void> =>
      path === STREAM_TICKET_PATH ? Promise.resolve(exchange.answer(errorAnswer(shapes, error, path))) : exchange.runAdapter({ refusal: error });
    proxyWarning.check(req);
    exchange.addHeaders(cors.allow(req));
    const entry = gate.enter(req, address);
    if (cors.isPreflight(req)) {
      exchange.answer(entry ? errorAnswer(shapes, entry.error, path) : cors.preflightAnswer());
      return;
    }
    if (entry) {
      if (req.method === 'HEAD' && entry.reason === RefusalReason.DRAINING) {
        exchange.answer({ status: 503, headers: { 'cache-control': 'no-store' } });
        return;
      }
      return refuse(entry.error);
    }
    if (req.method === 'HEAD' && path === '') return answerHeartbeat(exchange);
    const calls = path === '' ? 0 : path.split(',').length;
    const bounds = gate.checkBatch(calls) ?? gate.checkPayload(Number(req.headers['content-length'] ?? 0) || 0);
    if (bounds) return refuse(bounds.error);
    if (path === STREAM_TICKET_PATH) return streams.serveTicket(exchange, path);
    if (isEventStreamRequest(router, req, path)) return streams.serve(exchange, path);

    // Calls from one address in progress at once are bounded, and so the answers they make the server hold.
    const held = Math.max(calls, 1);
    const concurrency = gate.beginHttpCalls(address, held);
    if (concurrency) return refuse(concurrency.error);
    exchange.onClose(() => gate.endHttpCalls(address, held));
    let params: ConnectionParams | null;
    try {
      params = connectionParamsOf(req, queryConnectionParams(url));
    } catch (cause) {
      return refuse(getTRPCErrorFromUnknown(cause));
    }
    const admitted = await gate.admit(params, exchange.request, address, false, newConnectionId());
    if (!admitted.ok) return refuse(notAdmittedError(admitted));
    const caller = { ...admitted, address };
    const budget = gate.takeRequests(caller, held);
    if (budget) return refuse(budget.error);
    const { httpWriteTimeoutMs } = config.limits;
    exchange.dropUnlessTaken(httpWriteTimeoutMs, () => gate.refuse(RefusalReason.SLOW_HTTP_CLIENT, slowClient(httpWriteTimeoutMs), { address }));
    const key = req.method === 'POST' ? idempotencyKeyOf(req) : null;
    if (key) return serveIdempotent({ ...shapes, runner, maxPayloadBytes }, exchange, { path, batch: url.searchParams.get('batch') === '1', key }, caller);
    // A streamed batch (httpBatchStreamLink) is written call by call as its client takes it: not counted as one answer.
    if (req.headers['trpc-accept'] === 'application/jsonl') return exchange.runAdapter({ ctx: admitted.ctx });
    const meter = new AnswerMeter(gate, address, config.limits.maxHttpAnswerBytes);
    exchange.onClose(() => meter.release());
    await meter.around(() => exchange.runAdapter({ ctx: admitted.ctx }));
  }

  /**
   * Serves `exchange`, within the trace context of its headers while an SDK
   * records spans (its call spans continue the caller's trace); an
   * unexpected failure is reported and answered with its error.
   */
  function start(exchange: HttpExchange, path: string): void {
    const served = tracingActive() ? withRequestTrace(traceOfHeaders(exchange.head.headers), () => serve(exchange, path)) : serve(exchange, path);
    served.catch((cause: unknown) => {
      const error = getTRPCErrorFromUnknown(cause);
      runner.report(error, { type: 'unknown', path });
      exchange.answer(errorAnswer(shapes, error, path));
    });
  }

  // The fetch handler's exchanges not over yet, for `endFetches`.
  const fetches = new Set<HttpExchange>();

  /** The procedure path of `pathname` under the prefix, or null when it is not under it. */
  const pathUnder = (pathname: string): string | null =>
    pathname === prefix || pathname.startsWith(`${prefix}/`) ? pathname.slice(prefix.length + 1) : null;

  return {
    get streamCount() {
      return streams.count;
    },
    disconnectUser(userKey, reason) {
      streams.disconnectUser(userKey, reason);
    },
    endFetches() {
      for (const exchange of fetches) exchange.destroy();
    },
    describeStreams: (matches, limit, displayNameOf) => streams.describeStreams(matches, limit, displayNameOf),
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = pathUnder(url.pathname);
      if (path === null) return false;
      start(nodeExchange(adapter, req, res, { url, path, address: clientAddress(req, config.trustProxy) }), path);
      return true;
    },
    fetch(request, address) {
      const url = new URL(request.url);
      const path = pathUnder(url.pathname);
      if (path === null) return null;
      const { exchange, response } = fetchExchange(adapter, request, { url, address });
      fetches.add(exchange);
      exchange.onClose(() => fetches.delete(exchange));
      start(exchange, path);
      return response;
    },
  };
}

function slowClient(timeoutMs: number): HeraldError {
  return new HeraldError('LIMIT_EXCEEDED', `The client did not take its answer within ${timeoutMs} ms (httpWriteTimeoutMs); it was dropped`);
}
