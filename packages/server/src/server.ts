import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { memoryIdempotencyStore } from './brokers/idempotency.js';
import { Admission } from './connection/admission.js';
import { ConnectionHandler, defaultUserKey } from './connection/handler.js';
import { serveHealth } from './http/health.js';
import { createListener } from './http/listener.js';
import { defaultLogger } from './observability/logger.js';
import { ServerMetrics } from './observability/metrics.js';
import { trpcHttpFor } from './http/trpcHttp.js';
import { serverDefaults, type HeraldServerOptions } from './options.js';

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
  const path = options.path ?? serverDefaults.path;
  const heartbeat = { ...serverDefaults.heartbeat, ...options.heartbeat };
  const startedAt = Date.now();
  let closing: Promise<void> | null = null;
  const isDraining = () => closing !== null;

  const limits = { ...serverDefaults.limits, ...options.limits };
  const rate = limits.rate === false ? null : { ...serverDefaults.limits.rate, ...limits.rate };
  const compression =
    options.compression === true
      ? serverDefaults.compression
      : options.compression
        ? { ...serverDefaults.compression, ...options.compression }
        : null;
  const logger = options.logger ?? defaultLogger();
  const metricsOptions = options.metrics === false ? null : { ...serverDefaults.metrics, ...options.metrics };
  const metrics = new ServerMetrics(
    metricsOptions
      ? { registry: metricsOptions.registry ?? new Registry(), prefix: metricsOptions.prefix, openConnections: () => ws.connectionCount }
      : null,
  );
  const admission = new Admission({
    path,
    allowedOrigins: options.allowedOrigins,
    trustProxy: options.trustProxy ?? false,
    maxConnections: limits.maxConnections,
    maxConnectionsPerIp: limits.maxConnectionsPerIp,
    isDraining,
  });
  const ws: ConnectionHandler<TRouter> = new ConnectionHandler({
    router: options.router,
    createContext: options.createContext as HeraldServerOptions<TRouter, unknown>['createContext'],
    authenticate: options.authenticate as HeraldServerOptions<TRouter, unknown>['authenticate'],
    userKey: (options.userKey as ((user: unknown) => string | null) | undefined) ?? defaultUserKey,
    maxConnectionsPerUser: limits.maxConnectionsPerUser,
    pingIntervalMs: heartbeat.pingIntervalMs,
    pongTimeoutMs: heartbeat.pongTimeoutMs,
    maxPayloadBytes: limits.maxPayloadBytes,
    limits: {
      maxSubscriptions: limits.maxSubscriptionsPerConnection,
      maxBatchSize: limits.maxBatchSize,
      maxBufferedBytes: limits.maxBufferedBytes,
      connectionParamsTimeoutMs: limits.connectionParamsTimeoutMs,
      rate,
    },
    compression,
    admission,
    metrics,
    logger,
    idempotency: {
      store: options.herald?.broker.idempotency ?? memoryIdempotencyStore(),
      ttlMs: options.idempotency?.ttlMs ?? serverDefaults.idempotency.ttlMs,
      waitTimeoutMs: options.idempotency?.waitTimeoutMs ?? serverDefaults.idempotency.waitTimeoutMs,
      scope: options.idempotency?.scope,
    },
    onError: options.onError,
  });

  const healthSource = {
    startedAt,
    herald: options.herald,
    connectionCount: () => ws.connectionCount,
    isClosing: isDraining,
    metrics: metricsOptions?.path ? { path: metricsOptions.path, render: () => metrics.render() } : null,
  };

  // The router over HTTP (`/trpc`, SSE subscriptions) for networks that strip WebSocket upgrades.
  const trpcHttp = trpcHttpFor(options, () => closing !== null);
  const listenerSettings = { tls: options.tls, headersTimeoutMs: limits.headersTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs };
  const http: Server = createListener(listenerSettings, (req: IncomingMessage, res: ServerResponse) => {
    serveHealth(healthSource, req, res)
      .then((handled) => {
        if (handled || trpcHttp?.handle(req, res) || options.handleHttp?.(req, res)) return;
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'NOT_FOUND', message: `No route for ${req.method} ${req.url}` }));
      })
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
        options.onError?.({ error: error instanceof Error ? error : new Error(String(error)), path: req.url, type: 'http' });
      });
  });

  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // A socket error before `ws` takes over must not become an uncaught exception.
    socket.on('error', () => socket.destroy());
    // Path, drain, origin and connection limits are checked there (connection/admission.ts).
    ws.handleUpgrade(req, socket, head);
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? serverDefaults.port, options.host, () => {
      http.off('error', reject);
      resolve();
    });
  });

  const address = http.address() as AddressInfo;
  const hostForUrl = !options.host || options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const hostPart = hostForUrl.includes(':') ? `[${hostForUrl}]` : hostForUrl;

  const secure = options.tls !== undefined;
  logger.info({ event: 'server.listening', port: address.port, host: options.host ?? null, tls: secure, path }, 'herald listening');

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
    close() {
      closing ??= (async () => {
        // Draining: from here upgrades get 503 and /readyz answers 503, while
        // HTTP keeps answering so a balancer can see it.
        logger.info({ event: 'server.draining', connections: ws.connectionCount, unanswered: ws.unansweredCount }, 'draining');
        ws.broadcastReconnect();
        await ws.drain(options.drainTimeoutMs ?? serverDefaults.drainTimeoutMs);
        const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeIdleConnections();
        await ws.close(options.closeTimeoutMs ?? serverDefaults.closeTimeoutMs);
        http.closeAllConnections();
        await httpClosed;
        logger.info({ event: 'server.closed' }, 'herald closed');
      })();
      return closing;
    },
  };
}
