import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { attachHerald, type HeraldHandler } from '@herald/server';
import { createChatApp, type ChatAppOptions } from '@herald/example-chat-server';

export interface FastifyAppOptions extends ChatAppOptions {
  /** @default 3001 */
  port?: number;
  /** @default every interface */
  host?: string;
}

/** The running Fastify app, with the demo's chat router on its port. */
export interface FastifyApp {
  readonly port: number;
  /** `http://host:port`: `GET /hello`, and Herald's HTTP fallback at `/trpc`. */
  readonly httpUrl: string;
  /** `ws://host:port/ws`: Herald's WebSocket. */
  readonly url: string;
  readonly herald: HeraldHandler;
  /** Drains Herald, then closes Fastify and the chat app. */
  close(): Promise<void>;
}

/**
 * A Fastify 5 app with a route of its own (`GET /hello`) and the demo's
 * chat router (docs/demo-api.md) served by Herald on the same port:
 * WebSocket at `/ws`, the HTTP fallback at `/trpc`, `/healthz`, `/readyz`
 * and `/metrics`.
 */
export async function startFastifyApp(options: FastifyAppOptions = {}): Promise<FastifyApp> {
  const app = Fastify();
  app.get('/hello', () => ({ hello: 'world' }));

  const chat = createChatApp(options);
  // Fastify's server exists from `Fastify()` on; Herald takes its own paths before Fastify's router sees them.
  const herald = await attachHerald(app.server, chat.heraldOptions);

  await app.listen({ port: options.port ?? 3001, host: options.host ?? '0.0.0.0' });
  const { port } = app.server.address() as AddressInfo;
  const host = !options.host || options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    port,
    httpUrl: `http://${host}:${port}`,
    url: `ws://${host}:${port}${herald.path}`,
    herald,
    async close() {
      // Herald first: it drains (clients move, calls in flight answer), then closes its sockets,
      // which Fastify's close would otherwise wait for.
      await herald.close();
      await app.close();
      await chat.close();
    },
  };
}
