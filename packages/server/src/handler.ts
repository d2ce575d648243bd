import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import type { Logger } from 'pino';
import { AdminEndpoint } from './admin/adminEndpoint.js';
import { createCallPath } from './callPath.js';
import { resolveServerOptions, type ServerConfig } from './config.js';
import { UpgradeRefusal } from './errors.js';
import { heraldInternals } from './herald.js';
import { createFetchHandler, type FetchHandlerOptions, type HeraldFetchHandler } from './http/fetchHandler.js';
import { serveHealth, type HealthSource } from './http/health.js';
import { createTrpcHttpHandler } from './http/trpcHttp.js';
import { loadPromClient, ServerMetrics } from './observability/metrics.js';
import { loadTracing } from './observability/tracing.js';
import type { HeraldHandlerOptions, MetricsRegistry } from './options.js';
import { ProxyHeaderWarning } from './transport/clientAddress.js';
import { Revocations } from './transport/revocations.js';
import { ConnectionHandler } from './ws/handler.js';
import { writeUpgradeRefusal } from './ws/upgrade.js';

const NO_CHANNEL_COUNTS = { published: 0, resumed: 0 } as const;

/**
 * Herald without a server of its own (`createHeraldHandler`): the WebSocket
 * door, the HTTP fallback, health, metrics and the admin page, for a server
 * that hands it its upgrades and requests. `attachHerald` wires one to a
 * Node server; `createHeraldServer` runs one behind a listener of its own.
 */
export interface HeraldHandler {
  /** The path WebSocket upgrades are accepted on. */
  readonly path: string;
  /** Open WebSocket connections now. */
  readonly connectionCount: number;
  /** True from the moment `drain()` or `close()` is called: new connections are refused and `/readyz` answers 503. */
  readonly draining: boolean;
  /** The handler's Prometheus registry (`null` with `metrics: false`). */
  readonly metrics: MetricsRegistry | null;
  /** The logger the handler writes to. */
  readonly logger: Logger;
  /**
   * Takes an upgrade request when it is Herald's (its WebSocket path, or the
   * admin socket's) and returns true: the socket is then Herald's, upgraded
   * or refused through the request gate. Returns false, touching nothing,
   * for any other path.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /**
   * Takes an HTTP request when it is Herald's (the HTTP fallback under
   * `httpPath`, `/healthz` and `/readyz`, the metrics path, the admin page)
   * and returns true: Herald answers it, now or later. Returns false,
   * touching nothing, for any other request.
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * The HTTP door as a fetch-API handler, `(request) => Promise<Response>`,
   * for Hono, Next.js route handlers, Bun and Deno: calls, batches and event
   * streams under `httpPath`, with every guard of the Node doors (the
   * request gate, the call runner, `Idempotency-Key`, CORS, limits). Health,
   * metrics and the admin page stay on the Node doors. See docs/attach.md.
   */
  fetchHandler(options?: FetchHandlerOptions): HeraldFetchHandler;
  /** Tells every connected client to reconnect (to this node once it is back, or to another). */
  broadcastReconnect(): void;
  /**
   * Ends the sessions of the user `userKey` (see `userKey`) on every node
   * sharing this handler's `herald` broker: their WebSockets close with 4006
   * (`REVOKED`) and their SSE streams end, within a broker round trip.
   * Resolves once the broker took the revocation. Make the app's
   * `authenticate` refuse the user's credentials too, or they reconnect.
   * @param reason The close reason the clients see. @default 'sessions revoked'
   */
  disconnectUser(userKey: string, reason?: string): Promise<void>;
  /**
   * Stops accepting at once (upgrades get 503, HTTP calls `SERVER_CLOSING`,
   * `/readyz` answers 503), sends the reconnect notice so clients move to
   * another node, and resolves once no query or mutation is waiting for its
   * answer on a WebSocket, or after `drainTimeoutMs`. `close()` drains first.
   */
  drain(): Promise<void>;
  /**
   * Drains, then closes what Herald holds: every WebSocket with 1001 (see
   * `closeTimeoutMs`), the admin sockets, and the HTTP responses Herald has
   * not finished, the fetch handler's too (event streams end; their clients reconnect). Resolves when
   * nothing of Herald's is left open. Does not close the server Herald runs
   * on, nor the `herald` passed in: the app owns them.
   */
  close(): Promise<void>;
}

/**
 * Builds Herald's handler: the same call path (request gate and call
 * runner), doors, health and admin page as `createHeraldServer`, for a
 * server that owns its own upgrade and request handling (a framework's, or
 * `attachHerald`). Feed it each upgrade and request; what it returns false
 * for is the app's.
 */
export async function createHeraldHandler<TRouter extends AnyRouter, TUser = never>(
  options: HeraldHandlerOptions<TRouter, TUser>,
): Promise<HeraldHandler> {
  return startHandler(resolveServerOptions(options));
}

/** `createHeraldHandler` over options already resolved (`createHeraldServer` reads its listener's from the same config). */
export async function startHandler<TRouter extends AnyRouter>(config: ServerConfig<TRouter>): Promise<HeraldHandler> {
  const { logger, path } = config;
  const startedAt = Date.now();
  let draining: Promise<void> | null = null;
  let closing: Promise<void> | null = null;
  const isDraining = () => draining !== null;

  // @opentelemetry/api is an optional peer: spans start once it is imported, if it is installed.
  await loadTracing();
  // prom-client is an optional peer: imported only when metrics are on.
  const metrics = new ServerMetrics(
    config.metrics
      ? {
          prom: await loadPromClient(),
          registry: config.metrics.registry,
          prefix: config.metrics.prefix,
          openConnections: () => ws.connectionCount,
          channels: () => (config.herald && heraldInternals(config.herald)?.counts) || NO_CHANNEL_COUNTS,
        }
      : null,
  );
  // `disconnectUser` reaches every node through the channels' broker (without `herald`, this node alone),
  // and the gate refuses the user's older credentials while the revocation is in force.
  const revocations = new Revocations(
    config.herald?.broker ?? null,
    ({ userKey, reason }) => {
      ws.disconnectUser(userKey, reason);
      trpcHttp?.disconnectUser(userKey, reason);
    },
    (error) => logger.warn({ err: error, event: 'revocation.malformed' }, 'ignored a malformed revocation'),
    config.auth.revocationTtlMs,
  );
  // The one call path every door shares: the request gate and the call runner.
  const { gate, runner } = createCallPath(config, metrics, isDraining, (userKey) => revocations.revokedAt(userKey));
  const proxyWarning = new ProxyHeaderWarning(config.trustProxy, (message) => logger.warn({ event: 'config.trust_proxy' }, message));
  const ws: ConnectionHandler<TRouter> = new ConnectionHandler(config, { path, gate, runner, metrics });
  await revocations.start();
  // The admin page, its router on a socket of its own, and this node's figures on the broker (off: nothing runs).
  const displayNameOf = config.admin?.displayNameOf ?? (() => null);
  const admin = config.admin
    ? await AdminEndpoint.start(config, config.admin, {
        nodeId: config.herald?.nodeId ?? `node-${process.pid}`,
        startedAt,
        herald: config.herald,
        metrics,
        connectionCount: () => ws.connectionCount,
        isDraining,
        describeConnections: (matches, limit) => {
          const found = ws.describeConnections(matches, limit, displayNameOf);
          return found.length >= limit || !trpcHttp ? found : [...found, ...trpcHttp.describeStreams(matches, limit - found.length, displayNameOf)];
        },
        revoke: (userKey, reason) => revocations.revoke(userKey, reason),
      })
    : null;
  // The router over HTTP (`/trpc`, SSE subscriptions) for networks that strip WebSocket upgrades.
  const trpcHttp = createTrpcHttpHandler(config, { gate, runner, proxyWarning });

  const metricsPath = config.metrics?.path;
  const healthSource: HealthSource = {
    startedAt,
    herald: config.herald,
    probes: config.health,
    connectionCount: () => ws.connectionCount,
    isClosing: isDraining,
    metrics: metricsPath ? { path: metricsPath, render: () => metrics.render() } : null,
  };
  // Herald's HTTP responses not finished yet (calls in flight, event streams), ended by `close()`.
  const responses = new Set<ServerResponse>();

  const drain = (): Promise<void> => {
    draining ??= (async () => {
      // From here upgrades get 503 and /readyz answers 503, while HTTP keeps
      // answering so a balancer can see it.
      logger.info({ event: 'server.draining', connections: ws.connectionCount, unanswered: ws.unansweredCount }, 'draining');
      ws.broadcastReconnect();
      await ws.drain(config.drainTimeoutMs);
    })();
    return draining;
  };

  return {
    path,
    get connectionCount() {
      return ws.connectionCount;
    },
    get draining() {
      return isDraining();
    },
    metrics: metrics.registry,
    logger,
    handleUpgrade(req, socket, head) {
      if (!ws.serves(req) && !admin?.servesUpgrade(req)) return false;
      // A socket error before `ws` takes over must not become an uncaught exception.
      socket.on('error', destroyOnError);
      proxyWarning.check(req);
      // The admin socket, or the app's through the request gate (drain, origin, failed authentications, connection slots).
      if (!admin?.handleUpgrade(req, socket, head)) ws.handleUpgrade(req, socket, head);
      return true;
    },
    handleRequest(req, res) {
      const health = serveHealth(healthSource, req, res);
      if (health) {
        health.catch((error: unknown) => {
          if (!res.headersSent) res.writeHead(500);
          res.end();
          config.report(error, 'http', req.url);
        });
        return true;
      }
      if (admin?.handleHttp(req, res)) return true;
      if (!trpcHttp?.handle(req, res)) return false;
      if (!res.writableEnded) {
        responses.add(res);
        res.once('close', () => responses.delete(res));
      }
      return true;
    },
    fetchHandler: (options = {}) => createFetchHandler(trpcHttp, config.trustProxy, config.httpPath, options),
    broadcastReconnect: () => ws.broadcastReconnect(),
    disconnectUser: (userKey, reason = 'sessions revoked') => revocations.revoke(userKey, reason),
    drain,
    close() {
      closing ??= (async () => {
        await drain();
        await Promise.all([ws.close(config.closeTimeoutMs), admin?.close(config.closeTimeoutMs)]);
        for (const res of responses) res.destroy();
        trpcHttp?.endFetches();
        await revocations.stop();
        logger.info({ event: 'server.closed' }, 'herald closed');
      })();
      return closing;
    },
  };
}

/** A socket's error listener: destroys it (one function for every socket; the emitter calls it with the socket as `this`). */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** Answers an upgrade no door of Herald's (nor the app) took: 404, naming the path Herald upgrades on. */
export function refuseUnknownUpgrade(socket: Duplex, handler: HeraldHandler): void {
  socket.on('error', destroyOnError);
  writeUpgradeRefusal(socket, UpgradeRefusal.NOT_FOUND, `WebSocket connections upgrade on ${handler.path}`);
}
