import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import { memoryIdempotencyStore } from './brokers/idempotency.js';
import { ConnectionHandler } from './connection/handler.js';
import { serveHealth } from './http/health.js';
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
  /** Tells every connected client to reconnect (to this node once it is back, or to another). */
  broadcastReconnect(): void;
  /**
   * Stops accepting, asks clients to reconnect, closes every socket (see
   * `closeTimeoutMs`) and the HTTP server. Resolves when nothing is left open.
   * Does not close the `herald` passed in: the app owns it.
   */
  close(): Promise<void>;
}

/** Starts an HTTP server that serves the router over WebSocket at `path`, plus `/healthz` and `/readyz`. */
export async function createHeraldServer<TRouter extends AnyRouter>(options: HeraldServerOptions<TRouter>): Promise<HeraldServer> {
  const path = options.path ?? serverDefaults.path;
  const heartbeat = { ...serverDefaults.heartbeat, ...options.heartbeat };
  const startedAt = Date.now();
  let closing: Promise<void> | null = null;

  const limits = { ...serverDefaults.limits, ...options.limits };
  const ws = new ConnectionHandler({
    router: options.router,
    createContext: options.createContext,
    pingIntervalMs: heartbeat.pingIntervalMs,
    pongTimeoutMs: heartbeat.pongTimeoutMs,
    maxPayloadBytes: limits.maxPayloadBytes,
    limits: {
      maxSubscriptions: limits.maxSubscriptionsPerConnection,
      maxBatchSize: limits.maxBatchSize,
      maxBufferedBytes: limits.maxBufferedBytes,
      connectionParamsTimeoutMs: limits.connectionParamsTimeoutMs,
    },
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
    isClosing: () => closing !== null,
  };

  const http: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    serveHealth(healthSource, req, res)
      .then((handled) => {
        if (handled || options.handleHttp?.(req, res)) return;
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
    const requestPath = (req.url ?? '').split('?')[0];
    if (closing || requestPath !== path) {
      const status = closing ? '503 Service Unavailable' : '404 Not Found';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
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

  return {
    port: address.port,
    url: `ws://${hostPart}:${address.port}${path}`,
    httpUrl: `http://${hostPart}:${address.port}`,
    get connectionCount() {
      return ws.connectionCount;
    },
    broadcastReconnect: () => ws.broadcastReconnect(),
    close() {
      closing ??= (async () => {
        const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeIdleConnections();
        await ws.close(options.closeTimeoutMs ?? serverDefaults.closeTimeoutMs);
        http.closeAllConnections();
        await httpClosed;
      })();
      return closing;
    },
  };
}
