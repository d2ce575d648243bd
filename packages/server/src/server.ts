import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AdminEndpoint } from './admin/adminEndpoint.js';
import { createCallPath } from './callPath.js';
import { resolveServerOptions } from './config.js';
import { heraldInternals } from './herald.js';
import { serveHealth } from './http/health.js';
import { createListener } from './http/listener.js';
import { createTrpcHttpHandler } from './http/trpcHttp.js';
import { loadPromClient, ServerMetrics } from './observability/metrics.js';
import type { HeraldServerOptions } from './options.js';
import { ProxyHeaderWarning } from './transport/clientAddress.js';
import { Revocations } from './transport/revocations.js';
import { ConnectionHandler } from './ws/handler.js';

const NO_CHANNEL_COUNTS = { published: 0, resumed: 0 } as const;

/** A running Herald server, as `createHeraldServer` resolves it: where it listens, its state, and how to stop it. */
export interface HeraldServer {
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** `ws://host:port/ws`, for clients on this machine. */
  readonly url: string;
  /** `http://host:port`. */
  readonly httpUrl: string;
  /** Open WebSocket connections now. */
  readonly connectionCount: number;
  /** True from the moment `close()` is called: new connections are refused and `/readyz` answers 503. */
  readonly draining: boolean;
  /** The server's Prometheus registry (`null` with `metrics: false`). */
  readonly metrics: Registry | null;
  /** The logger the server writes to. */
  readonly logger: Logger;
  /** Tells every connected client to reconnect (to this node once it is back, or to another). */
  broadcastReconnect(): void;
  /**
   * Ends the sessions of the user `userKey` (see `userKey`) on every node
   * sharing this server's `herald` broker: their WebSockets close with 4006
   * (`REVOKED`) and their SSE streams end, within a broker round trip.
   * Resolves once the broker took the revocation. For `auth.revocationTtlMs`
   * every node then refuses the user's credentials issued before it (all
   * of them when their issue time is not known: see `withExpiry`), so the
   * user is back only once it signs in again.
   * @param reason The close reason the clients see. @default 'sessions revoked'
   */
  disconnectUser(userKey: string, reason?: string): Promise<void>;
  /**
   * Drains, then closes: stops accepting at once (upgrades get 503, `/readyz`
   * answers 503 while HTTP keeps serving), sends the reconnect notice so
   * clients move to another node, waits up to `drainTimeoutMs` for calls in
   * flight to answer, closes every socket with 1001 (see `closeTimeoutMs`),
   * then the HTTP server. Resolves when nothing is left open. Does not close
   * the `herald` passed in: the app owns it.
   */
  close(): Promise<void>;
}

/**
 * Starts an HTTP(S) server that serves the router over WebSocket at `path`,
 * plus `/healthz`, `/readyz` and `/metrics`.
 */
export async function createHeraldServer<TRouter extends AnyRouter, TUser = never>(
  options: HeraldServerOptions<TRouter, TUser>,
): Promise<HeraldServer> {
  const config = resolveServerOptions(options);
  const { logger, path } = config;
  const startedAt = Date.now();
  let closing: Promise<void> | null = null;
  const isDraining = () => closing !== null;

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
  // The one call path both doors share: the request gate and the call runner.
  const { gate, runner } = createCallPath(config, metrics, isDraining, (userKey) => revocations.revokedAt(userKey));
  const proxyWarning = new ProxyHeaderWarning(config.trustProxy, (message) => logger.warn({ event: 'config.trust_proxy' }, message));
  const ws: ConnectionHandler<TRouter> = new ConnectionHandler(config, { path, gate, runner, metrics });
  await revocations.start();
  // The admin page, its router on a socket of its own, and this node's figures on the broker (off: nothing runs).
  const admin = config.admin
    ? await AdminEndpoint.start(config, config.admin, {
        nodeId: config.herald?.nodeId ?? `node-${process.pid}`,
        startedAt,
        herald: config.herald,
        metrics,
        connectionCount: () => ws.connectionCount,
        isDraining,
        describeConnections: (matches, limit) => ws.describeConnections(matches, limit),
        revoke: (userKey, reason) => revocations.revoke(userKey, reason),
      })
    : null;
  // The router over HTTP (`/trpc`, SSE subscriptions) for networks that strip WebSocket upgrades.
  const trpcHttp = createTrpcHttpHandler(config, { gate, runner, proxyWarning });

  const metricsPath = config.metrics?.path;
  const healthSource = {
    startedAt,
    herald: config.herald,
    connectionCount: () => ws.connectionCount,
    isClosing: isDraining,
    metrics: metricsPath ? { path: metricsPath, render: () => metrics.render() } : null,
  };

  const { limits } = config;
  const listenerSettings = { tls: config.tls, headersTimeoutMs: limits.headersTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs };
  const http: Server = createListener(listenerSettings, (req: IncomingMessage, res: ServerResponse) => {
    serveHealth(healthSource, req, res)
      .then((handled) => {
        if (handled || admin?.handleHttp(req, res) || trpcHttp?.handle(req, res) || config.handleHttp?.(req, res)) return;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'NOT_FOUND', message: `No route for ${req.method} ${req.url}` }));
      })
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
        config.report(error, 'http', req.url);
      });
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A socket error before `ws` takes over must not become an uncaught exception.
    socket.on('error', () => socket.destroy());
    proxyWarning.check(req);
    if (admin?.handleUpgrade(req, socket, head)) return;
    // Path, then the request gate (drain, origin, failed authentications, connection slots).
    ws.handleUpgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });

  const address = http.address() as AddressInfo;
  const hostForUrl = !config.host || config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const hostPart = hostForUrl.includes(':') ? `[${hostForUrl}]` : hostForUrl;

  const secure = config.tls !== undefined;
  logger.info({ event: 'server.listening', port: address.port, host: config.host ?? null, tls: secure, path }, 'herald listening');

  return {
    port: address.port,
    url: `${secure ? 'wss' : 'ws'}://${hostPart}:${address.port}${path}`,
    httpUrl: `${secure ? 'https' : 'http'}://${hostPart}:${address.port}`,
    get connectionCount() {
      return ws.connectionCount;
    },
    get draining() {
      return closing !== null;
    },
    metrics: metrics.registry,
    logger,
    broadcastReconnect: () => ws.broadcastReconnect(),
    disconnectUser: (userKey, reason = 'sessions revoked') => revocations.revoke(userKey, reason),
    close() {
      closing ??= (async () => {
        // Draining: from here upgrades get 503 and /readyz answers 503, while
        // HTTP keeps answering so a balancer can see it.
        logger.info({ event: 'server.draining', connections: ws.connectionCount, unanswered: ws.unansweredCount }, 'draining');
        ws.broadcastReconnect();
        await ws.drain(config.drainTimeoutMs);
        const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeIdleConnections();
        await Promise.all([ws.close(config.closeTimeoutMs), admin?.close(config.closeTimeoutMs)]);
        http.closeAllConnections();
        await httpClosed;
        await revocations.stop();
        logger.info({ event: 'server.closed' }, 'herald closed');
      })();
      return closing;
    },
  };
}
