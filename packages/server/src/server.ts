import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import type { Logger } from 'pino';
import { resolveServerOptions } from './config.js';
import { refuseUnknownUpgrade, startHandler } from './handler.js';
import { createListener } from './http/listener.js';
import type { HeraldServerOptions, MetricsRegistry } from './options.js';

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
  readonly metrics: MetricsRegistry | null;
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
 * plus `/healthz`, `/readyz` and `/metrics`: Herald's handler
 * (`createHeraldHandler`) behind a listener of its own. To serve Herald on
 * an app's existing server instead, see `attachHerald`.
 */
export async function createHeraldServer<TRouter extends AnyRouter, TUser = never>(
  options: HeraldServerOptions<TRouter, TUser>,
): Promise<HeraldServer> {
  const config = resolveServerOptions(options);
  const { logger, path } = config;
  const handler = await startHandler(config);
  let closing: Promise<void> | null = null;

  const { limits } = config;
  const listenerSettings = { tls: config.tls, headersTimeoutMs: limits.headersTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs };
  const http: Server = createListener(listenerSettings, (req: IncomingMessage, res: ServerResponse) => {
    if (handler.handleRequest(req, res) || config.handleHttp?.(req, res)) return;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'NOT_FOUND', message: `No route for ${req.method} ${req.url}` }));
  });
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!handler.handleUpgrade(req, socket, head)) refuseUnknownUpgrade(socket, handler);
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
      return handler.connectionCount;
    },
    get draining() {
      return handler.draining;
    },
    metrics: handler.metrics,
    logger,
    broadcastReconnect: () => handler.broadcastReconnect(),
    disconnectUser: (userKey, reason) => handler.disconnectUser(userKey, reason),
    close() {
      closing ??= (async () => {
        // Draining: new upgrades get 503 while HTTP keeps answering, so a balancer sees /readyz turn 503.
        await handler.drain();
        const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeIdleConnections();
        await handler.close();
        http.closeAllConnections();
        await httpClosed;
      })();
      return closing;
    },
  };
}
