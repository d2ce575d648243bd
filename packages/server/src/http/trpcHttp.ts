import type { IncomingMessage, ServerResponse } from 'node:http';
import { getTRPCErrorFromUnknown, type AnyRouter, type TRPCError } from '@trpc/server';
import { nodeHTTPRequestHandler } from '@trpc/server/adapters/node-http';
import { CREDENTIALS_EXPIRY_HEADER, STREAM_TICKET_PATH } from '@herald/shared/internal';
import type { CallRunner } from '../calls/runner.js';
import type { ServerConfig } from '../config.js';
import { HeraldError, RefusalReason } from '../errors.js';
import type { ConnectionParams } from '../transport/admission.js';
import { clientAddress, type ProxyHeaderWarning } from '../transport/clientAddress.js';
import { notAdmittedError, type RequestGate } from '../transport/gate.js';
import { InputLimitError } from '../transport/inputLimits.js';
import { AnswerMeter, isAnswerRefusal } from './answerMeter.js';
import { writeError, type HttpShapes } from './answers.js';
import { connectionParamsOf, queryConnectionParams } from './connectionParams.js';
import { Cors } from './cors.js';
import { EventStreams, isEventStreamRequest, type RunAdapter } from './eventStreams.js';
import { idempotencyKeyOf, serveIdempotent } from './idempotentHttp.js';
import { routerForHttp } from './routerView.js';
import { dropUnlessTaken, onClose } from './slowClients.js';

export interface TrpcHttpHandler {
  /** Serves `req` when its path is under the prefix (answering it, now or later); false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Server-Sent Events streams open now. */
  readonly streamCount: number;
  /** Ends the SSE streams of the user `userKey` (its other requests are answered per request anyway). */
  disconnectUser(userKey: string, reason: string): void;
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
 *   interval, and a client inactivity timeout.
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

  const runAdapter: RunAdapter = (req, res, path, answer) => {
    const meter = 'meter' in answer ? answer.meter : undefined;
    const run = () =>
      nodeHTTPRequestHandler({
        router,
        req,
        res,
        path,
        maxBodySize: maxPayloadBytes,
        ...('refusal' in answer ? { middleware: (_req: unknown, _res: unknown, next: (error?: unknown) => void) => next(answer.refusal) } : {}),
        createContext: () => ('ctx' in answer ? answer.ctx : undefined),
        onError: ({ error, type, path: errorPath }) => {
          // A meter's refusal was counted by the gate when it was thrown.
          if (isAnswerRefusal(error)) return;
          const limit = error instanceof InputLimitError ? error : error.cause instanceof InputLimitError ? error.cause : null;
          if (limit) gate.refuse(RefusalReason.INPUT_LIMITS, limit);
          else runner.report(error, { type: type as 'unknown', path: errorPath });
        },
      });
    return meter ? meter.around(run) : run();
  };
  const streams = new EventStreams(config, gate, shapes, runAdapter);
  const cors = new Cors(config.originAllowed, config.corsCredentials);

  /**
   * The HTTP heartbeat, `HEAD <httpPath>`: 204 while the server serves. With
   * credentials, it also says when they expire (the HTTP side's session
   * notice), so the client refreshes them in time; credentials it refuses
   * get no such header (the next call carries the refusal).
   */
  async function answerHeartbeat(req: IncomingMessage, res: ServerResponse, address: string): Promise<void> {
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    try {
      const params = connectionParamsOf(req, null);
      if (params) {
        const { expiresAt } = await gate.authenticate(params, req, address);
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
      path === STREAM_TICKET_PATH ? Promise.resolve(writeError(shapes, res, error, path)) : runAdapter(req, res, path, { refusal: error });
    const address = clientAddress(req, config.trustProxy);
    proxyWarning.check(req);
    cors.allow(req, res);
    const entry = gate.enter(req, address);
    if (cors.isPreflight(req)) {
      if (entry) writeError(shapes, res, entry.error, path);
      else cors.answerPreflight(req, res);
      return;
    }
    if (entry) {
      if (req.method === 'HEAD' && entry.reason === RefusalReason.DRAINING) {
        res.writeHead(503, { 'cache-control': 'no-store' }).end();
        return;
      }
      return refuse(entry.error);
    }
    if (req.method === 'HEAD' && path === '') return answerHeartbeat(req, res, address);
    const calls = path === '' ? 0 : path.split(',').length;
    const bounds = gate.checkBatch(calls) ?? gate.checkPayload(Number(req.headers['content-length'] ?? 0) || 0);
    if (bounds) return refuse(bounds.error);
    if (path === STREAM_TICKET_PATH) return streams.serveTicket(req, res, path, address);
    if (isEventStreamRequest(router, req, path)) return streams.serve(req, res, path, url, address);

    // Calls from one address in progress at once are bounded, and so the answers they make the server hold.
    const held = Math.max(calls, 1);
    const concurrency = gate.beginHttpCalls(address, held);
    if (concurrency) return refuse(concurrency.error);
    onClose(res, () => gate.endHttpCalls(address, held));
    let params: ConnectionParams | null;
    try {
      params = connectionParamsOf(req, queryConnectionParams(url));
    } catch (cause) {
      return refuse(getTRPCErrorFromUnknown(cause));
    }
    const admitted = await gate.admit(params, req, address, false);
    if (!admitted.ok) return refuse(notAdmittedError(admitted));
    const caller = { ...admitted, address };
    const budget = gate.takeRequests(caller, held);
    if (budget) return refuse(budget.error);
    const { httpWriteTimeoutMs } = config.limits;
    dropUnlessTaken(res, httpWriteTimeoutMs, () => gate.refuse(RefusalReason.SLOW_HTTP_CLIENT, slowClient(httpWriteTimeoutMs), { address }));
    const key = req.method === 'POST' ? idempotencyKeyOf(req) : null;
    if (key) return serveIdempotent({ ...shapes, runner, maxPayloadBytes }, req, res, { path, batch: url.searchParams.get('batch') === '1', key }, caller);
    // A streamed batch (httpBatchStreamLink) is written call by call as its client takes it: not counted as one answer.
    const meter = req.headers['trpc-accept'] === 'application/jsonl' ? undefined : new AnswerMeter(gate, address, config.limits.maxHttpAnswerBytes);
    if (meter) onClose(res, () => meter.release());
    await runAdapter(req, res, path, { ctx: admitted.ctx, ...(meter ? { meter } : {}) });
  }

  return {
    get streamCount() {
      return streams.count;
    },
    disconnectUser(userKey, reason) {
      streams.disconnectUser(userKey, reason);
    },
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const { pathname } = url;
      if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return false;
      const path = pathname.slice(prefix.length + 1);
      serve(req, res, path, url).catch((cause: unknown) => {
        const error = getTRPCErrorFromUnknown(cause);
        runner.report(error, { type: 'unknown', path });
        writeError(shapes, res, error, path);
      });
      return true;
    },
  };
}

function slowClient(timeoutMs: number): HeraldError {
  return new HeraldError('LIMIT_EXCEEDED', `The client did not take its answer within ${timeoutMs} ms (httpWriteTimeoutMs); it was dropped`);
}
