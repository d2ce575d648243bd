import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { attachHerald, type HeraldHandler } from '@herald/server';
import { createChatApp, type ChatAppOptions } from '@herald/example-chat-server';

export interface ExpressAppOptions extends ChatAppOptions {
  /** @default 3000 */
  port?: number;
  /** @default every interface */
  host?: string;
}

/** The running Express app, with the demo's chat router on its port. */
export interface ExpressApp {
  readonly port: number;
  /** `http://host:port`: `GET /hello`, and Herald's HTTP fallback at `/trpc`. */
  readonly httpUrl: string;
  /** `ws://host:port/ws`: Herald's WebSocket. */
  readonly url: string;
  readonly herald: HeraldHandler;
  /** Drains Herald, then closes the HTTP server and the chat app. */
  close(): Promise<void>;
}

/**
 * An Express 5 app with a route of its own (`GET /hello`) and the demo's
 * chat router (docs/demo-api.md) served by Herald on the same port:
 * WebSocket at `/ws`, the HTTP fallback at `/trpc`, `/healthz`, `/readyz`
 * and `/metrics`.
 */
export async function startExpressApp(options: ExpressAppOptions = {}): Promise<ExpressApp> {
  const app = express();
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });

  const chat = createChatApp(options);
  // Express's `app.listen()` makes its server out of sight: make it here, so Herald can attach to it.
  const server: Server = createServer(app);
  const herald = await attachHerald(server, chat.heraldOptions);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = !options.host || options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    port,
    httpUrl: `http://${host}:${port}`,
    url: `ws://${host}:${port}${herald.path}`,
    herald,
    async close() {
      // Herald first: it drains (clients move, calls in flight answer), then closes its sockets,
      // which `server.close()` would otherwise wait for.
      await herald.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await chat.close();
    },
  };
}
