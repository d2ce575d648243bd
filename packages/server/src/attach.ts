import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { AnyRouter } from '@trpc/server';
import { createHeraldHandler, refuseUnknownUpgrade, type HeraldHandler } from './handler.js';
import type { HeraldHandlerOptions } from './options.js';

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Serves Herald on an app's own Node `http.Server` or `https.Server` (an
 * Express, Fastify, NestJS or Next.js custom server's): WebSocket upgrades
 * at `path`, the HTTP fallback at `httpPath`, and, unless turned off,
 * `/healthz`, `/readyz`, the metrics path and the admin page, all on the
 * app's port, through the same request gate and call runner as
 * `createHeraldServer` (it is the same handler, `createHeraldHandler`).
 *
 * Herald sees each request first and answers only its own: the server's
 * existing request listeners (the app) get every other request, listeners
 * added later get every request. An upgrade on another path is left to the
 * app's own `upgrade` listeners, or answered 404 when there are none. The
 * server's port, address, TLS and timeouts stay the app's (the listener
 * options of `createHeraldServer` do not apply).
 *
 * Shutdown: `await herald.close()` (drain, then Herald's sockets and
 * streams), then close the server as the app does (`server.close()` waits
 * for every socket, Herald's WebSockets included). Herald stays attached
 * after `close()`: its paths keep answering "closing" (upgrades 503, calls
 * `SERVER_CLOSING`) until the server stops.
 *
 * @example
 * const server = http.createServer(app); // app: an Express app, say
 * const herald = await attachHerald(server, { router, createContext: () => ({}) });
 * server.listen(3000);
 */
export async function attachHerald<TRouter extends AnyRouter, TUser = never>(
  server: HttpServer | HttpsServer,
  options: HeraldHandlerOptions<TRouter, TUser>,
): Promise<HeraldHandler> {
  const handler = await createHeraldHandler(options);
  const appListeners = server.listeners('request') as RequestListener[];
  const onRequest: RequestListener = (req, res) => {
    if (handler.handleRequest(req, res)) return;
    for (const listener of appListeners) listener.call(server, req, res);
  };
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (handler.handleUpgrade(req, socket, head)) return;
    // Someone else's path: the app's own upgrade listeners take it; with none, nobody would answer.
    if (server.listenerCount('upgrade') === 1) refuseUnknownUpgrade(socket, handler);
  };
  // The app's request listeners move behind Herald's, which hands them what is not Herald's.
  server.removeAllListeners('request');
  server.on('request', onRequest);
  server.on('upgrade', onUpgrade);
  return handler;
}
