/**
 * A tiny HTTP proxy that stands for a corporate proxy or middlebox that
 * strips WebSocket upgrades: it forwards plain HTTP requests to the server
 * (streaming responses, so Server-Sent Events flow through as they are
 * written) and answers any `Upgrade: websocket` request with 403, or drops
 * it, or (once a test lets it) tunnels it like a proxy that allows upgrades.
 * Loopback only.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** How the proxy answers a WebSocket upgrade. */
export type UpgradeMode = 'refuse' | 'drop' | 'forward';

export interface UpgradeProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the page and `/trpc` through the proxy. */
  readonly httpUrl: string;
  /** `ws://127.0.0.1:<port>/ws`: the WebSocket URL through the proxy. */
  readonly wsUrl: string;
  /** Upgrades answered 403 or dropped so far. */
  readonly upgradesRefused: number;
  /** Upgrades tunnelled to the server so far. */
  readonly upgradesForwarded: number;
  /** Plain HTTP requests forwarded so far. */
  readonly requestsForwarded: number;
  /** Event streams (`text/event-stream` responses) passing through now. */
  readonly openStreams: number;
  /** `refuse` (403, the default), `drop` (destroy the socket) or `forward` (tunnel it). */
  setUpgrades(mode: UpgradeMode): void;
  /** Resets every connection through the proxy now, as a network cut would. */
  cutAll(): void;
  /** While true, new connections are reset right after accept (the network is down); open ones keep working. */
  setOffline(offline: boolean): void;
  /**
   * The next response to a request whose path starts with `pathPrefix` is
   * not delivered: the client connection is reset once the server has
   * answered (the request did reach the server).
   */
  loseNextResponse(pathPrefix: string): void;
  close(): Promise<void>;
}

export async function startUpgradeProxy(options: { targetPort: number; targetHost?: string; upgrades?: UpgradeMode }): Promise<UpgradeProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  let mode: UpgradeMode = options.upgrades ?? 'refuse';
  let offline = false;
  let upgradesRefused = 0;
  let upgradesForwarded = 0;
  let requestsForwarded = 0;
  let openStreams = 0;
  const lose: string[] = [];
  const sockets = new Set<Socket | Duplex>();

  function track(socket: Socket | Duplex): void {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requestsForwarded++;
    const path = req.url ?? '/';
    const loseIndex = lose.findIndex((prefix) => path.startsWith(prefix));
    const loseThis = loseIndex >= 0;
    if (loseThis) lose.splice(loseIndex, 1);
    const upstream = request(
      { host: targetHost, port: options.targetPort, method: req.method, path, headers: req.headers, agent: false },
      (answer) => {
        if (loseThis) {
          answer.resume();
          answer.once('end', () => req.socket.destroy());
          return;
        }
        const stream = String(answer.headers['content-type'] ?? '').startsWith('text/event-stream');
        if (stream) {
          openStreams++;
          res.once('close', () => openStreams--);
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway');
      else res.destroy();
    });
    // A client that leaves takes its upstream request with it (an SSE stream ends on the server).
    res.once('close', () => upstream.destroy());
    req.pipe(upstream);
  });

  server.on('connection', (socket: Socket) => {
    if (offline) {
      socket.resetAndDestroy();
      return;
    }
    track(socket);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (mode === 'refuse') {
      upgradesRefused++;
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 27\r\nConnection: close\r\n\r\nWebSockets are not allowed.');
      return;
    }
    if (mode === 'drop') {
      upgradesRefused++;
      socket.destroy();
      return;
    }
    upgradesForwarded++;
    const upstream = connect(options.targetPort, targetHost);
    track(upstream);
    upstream.once('connect', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    upstream.once('close', () => socket.destroy());
    socket.once('close', () => upstream.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    get upgradesRefused() {
      return upgradesRefused;
    },
    get upgradesForwarded() {
      return upgradesForwarded;
    },
    get requestsForwarded() {
      return requestsForwarded;
    },
    get openStreams() {
      return openStreams;
    },
    setUpgrades(next) {
      mode = next;
    },
    cutAll() {
      for (const socket of [...sockets]) {
        if ('resetAndDestroy' in socket && typeof socket.resetAndDestroy === 'function') (socket as Socket).resetAndDestroy();
        else socket.destroy();
      }
    },
    setOffline(next) {
      offline = next;
    },
    loseNextResponse(pathPrefix) {
      lose.push(pathPrefix);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of [...sockets]) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
