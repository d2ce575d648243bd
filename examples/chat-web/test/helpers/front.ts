/**
 * A front for the browser tests of the outbox: it serves the built app itself
 * (so a page can be reloaded while the chat server is down, as a page cached
 * by a service worker or a CDN would be) and forwards everything else to the
 * chat server: WebSocket upgrades to `wsPort` (a fault proxy in front of the
 * server, so a test can drop the answer of a send), other requests to
 * `httpPort`. A forward that finds no server answers 502, or resets the
 * upgrade: the page sees the server down. Loopback only.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.map': 'application/json',
};

export interface Front {
  /** `http://127.0.0.1:<port>/`: the page. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startFront(options: { staticDir: string; httpPort: () => number; wsPort: () => number }): Promise<Front> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://front').pathname;
      if (req.method === 'GET' && !path.startsWith('/trpc') && !path.startsWith('/ws')) {
        const file = normalize(join(options.staticDir, path === '/' ? 'index.html' : path));
        if (file.startsWith(options.staticDir)) {
          const body = await readFile(file).catch(() => null);
          if (body) {
            res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
            res.end(body);
            return;
          }
        }
      }
      forward(req, options.httpPort(), (status, headers, body) => {
        res.writeHead(status, headers);
        body.pipe(res);
      }, () => {
        res.writeHead(502).end();
      });
    })();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = connect(options.wsPort(), '127.0.0.1');
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    upstream.once('connect', () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.once('close', () => socket.destroy());
    socket.once('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function forward(
  req: IncomingMessage,
  port: number,
  answer: (status: number, headers: IncomingMessage['headers'], body: IncomingMessage) => void,
  fail: () => void,
): void {
  const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (res) =>
    answer(res.statusCode ?? 502, res.headers, res),
  );
  upstream.on('error', fail);
  req.pipe(upstream);
}
