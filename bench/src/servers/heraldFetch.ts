import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type HttpBindings } from '@hono/node-server';
import { Hono } from 'hono';
import type { AnyRouter } from '@trpc/server';
import { createHeraldHandler, type HeraldHandlerOptions, type MetricsRegistry } from '@herald/server';

/** What the bench reads of a Herald server, whichever way it is served. */
export interface ServedHerald {
  readonly port: number;
  readonly connectionCount: number;
  readonly metrics: MetricsRegistry | null;
  close(): Promise<void>;
}

/**
 * Herald with its HTTP door served by the fetch handler (`fetchHandler()`)
 * in a Hono app on `@hono/node-server`, the client's address from the
 * socket, as an app on Hono serves it; the WebSocket on the same server's
 * upgrades. What the SSE scenario compares with the Node door.
 */
export async function serveThroughFetch<TRouter extends AnyRouter>(options: HeraldHandlerOptions<TRouter>, port: number): Promise<ServedHerald> {
  const handler = await createHeraldHandler(options);
  const heraldFetch = handler.fetchHandler();
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.all('/trpc/*', (c) => heraldFetch(c.req.raw, c.env.incoming.socket.remoteAddress));
  app.all('/trpc', (c) => heraldFetch(c.req.raw, c.env.incoming.socket.remoteAddress));
  const server = await new Promise<Server>((resolve) => {
    const started = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve(started as Server));
  });
  server.on('upgrade', (req, socket, head) => {
    if (!handler.handleUpgrade(req, socket, head)) socket.destroy();
  });
  return {
    port: (server.address() as AddressInfo).port,
    get connectionCount() {
      return handler.connectionCount;
    },
    metrics: handler.metrics,
    async close() {
      await handler.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
