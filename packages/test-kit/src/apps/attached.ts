import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { AnyRouter } from '@trpc/server';
import { attachHerald, type HeraldHandler, type HeraldHandlerOptions, type HeraldServer } from '@herald/server';

/** What the app around an attached Herald answers itself: `GET /hello`. */
export const HELLO = { hello: 'world' } as const;

/** The app's own request listener: `/hello`, and 404 for anything else. */
function appListener(req: IncomingMessage, res: ServerResponse): void {
  const found = req.method === 'GET' && req.url === '/hello';
  res.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify(found ? HELLO : { error: 'app: no such route' }));
}

/** Herald attached to an app's server (`attachHerald`), seen as a `HeraldServer` so the kit's helpers take it. */
export interface AttachedServer extends HeraldServer {
  /** The app's own Node server. */
  readonly appServer: Server;
  /** The handler `attachHerald` returned. */
  readonly handler: HeraldHandler;
}

/**
 * A plain Node server on a free 127.0.0.1 port that answers `GET /hello`
 * itself (HTTPS with `tls`), with Herald attached by `attachHerald`.
 * `close()` closes Herald, then the app's server, as an app shuts down.
 */
export async function startAttached<TRouter extends AnyRouter, TUser>(
  options: HeraldHandlerOptions<TRouter, TUser>,
  tls?: TlsOptions,
): Promise<AttachedServer> {
  const appServer = tls ? createHttpsServer(tls, appListener) : createServer(appListener);
  const handler = await attachHerald(appServer, options);
  await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
  return attachedView(handler, appServer, tls ? 'https' : 'http');
}

/**
 * An app's server with a Herald handler on it, seen as a `HeraldServer` so
 * the kit's helpers take it: its URLs from the port it listens on, its
 * figures from the handler. `close()` closes Herald, then the app's server,
 * as an app shuts down.
 */
export function attachedView(handler: HeraldHandler, appServer: Server, scheme: 'http' | 'https'): AttachedServer {
  const { port } = appServer.address() as AddressInfo;
  return {
    appServer,
    handler,
    port,
    url: `${scheme === 'https' ? 'wss' : 'ws'}://127.0.0.1:${port}${handler.path}`,
    httpUrl: `${scheme}://127.0.0.1:${port}`,
    get connectionCount() {
      return handler.connectionCount;
    },
    get draining() {
      return handler.draining;
    },
    metrics: handler.metrics,
    logger: handler.logger,
    broadcastReconnect: () => handler.broadcastReconnect(),
    disconnectUser: (userKey, reason) => handler.disconnectUser(userKey, reason),
    async close() {
      await handler.close();
      const closed = new Promise<void>((resolve) => appServer.close(() => resolve()));
      appServer.closeAllConnections();
      await closed;
    },
  };
}
