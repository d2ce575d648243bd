import type { Server } from 'node:http';
import { serve, type HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono } from 'hono';
import type { AnyRouter } from '@trpc/server';
import { createHeraldHandler, type FetchHandlerOptions, type HeraldHandlerOptions } from '@herald/server';
import { attachedView, HELLO, type AttachedServer } from './attached.js';

/**
 * A Hono app on `@hono/node-server` (a free 127.0.0.1 port) that answers
 * `GET /hello` itself and hands `httpPath` to Herald's fetch handler
 * (`handler.fetchHandler()`), the client's address from the Node socket
 * Hono runs on: what a Hono, Bun or Deno app does. Herald's Node-only parts
 * (the WebSocket, health, metrics, the admin page) are served from the same
 * server's upgrades and requests, so the kit's helpers reach them as usual.
 */
export async function startHonoFetch<TRouter extends AnyRouter, TUser>(
  options: HeraldHandlerOptions<TRouter, TUser>,
  fetchOptions: FetchHandlerOptions = {},
): Promise<AttachedServer> {
  const handler = await createHeraldHandler(options);
  const heraldFetch = handler.fetchHandler(fetchOptions);
  const httpPath = options.httpPath ?? '/trpc';
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.get('/hello', (c) => c.json(HELLO));
  if (httpPath !== false) app.all(`${httpPath}/*`, (c) => heraldFetch(c.req.raw, c.env.incoming.socket.remoteAddress));
  app.all('*', (c) => (handler.handleRequest(c.env.incoming, c.env.outgoing) ? RESPONSE_ALREADY_SENT : c.json({ error: 'app: no such route' }, 404)));
  const appServer = await new Promise<Server>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started as Server));
  });
  appServer.on('upgrade', (req, socket, head) => {
    // Only Herald's sockets upgrade here.
    if (!handler.handleUpgrade(req, socket, head)) socket.destroy();
  });
  return attachedView(handler, appServer, 'http');
}
