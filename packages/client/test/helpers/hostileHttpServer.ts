/**
 * A fake tRPC HTTP endpoint that answers calls with whatever bodies a test
 * hands it, malformed ones included: the HTTP counterpart of hostileServer.ts.
 *
 * Why a fake: a real Herald server cannot produce these answers. Its bodies
 * go through the shared superjson transformer and tRPC's response shapes, so
 * it never answers 200 with something that is not a tRPC response, nor sends
 * a value of a type the client does not know. A server on a newer
 * `@herald/shared`, a proxy or a bug can (issue 32, item 1).
 *
 * It speaks just enough of tRPC's HTTP protocol: `HEAD` (Herald's probe and
 * heartbeat) answers 204; `GET /trpc/a,b?batch=1&input=...` (queries),
 * `POST /trpc/path` (a mutation) and an event stream (`Accept:
 * text/event-stream`) are handed to `respond` with the call's input (the
 * superjson `json` part).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HostileHttpCall {
  readonly path: string;
  /** The input's superjson `json`. */
  readonly input: unknown;
}

export interface HostileHttpResponder {
  /** The JSON body (status 200) for one query or mutation; a batch of queries gets the array of them. */
  answer(call: HostileHttpCall): unknown;
  /** The `data:` lines of an event stream, sent after tRPC's `connected` event; the stream then stays open. */
  stream(call: HostileHttpCall): readonly string[];
}

export interface HostileHttpServer {
  /** The HTTP endpoint, `http://127.0.0.1:<port>/trpc`. */
  readonly httpUrl: string;
  /** A WebSocket URL on the same port (nothing answers upgrades: it is only the client's required `url`). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startHostileHttpServer(responder: HostileHttpResponder): Promise<HostileHttpServer> {
  const open = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    void handle(req, res).catch(() => res.destroy());
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'HEAD') {
      res.writeHead(204).end();
      return;
    }
    const paths = url.pathname.replace(/^\/trpc\/?/, '').split(',');
    if (req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      const input = (JSON.parse(body || '{}') as { json?: unknown }).json;
      json(res, responder.answer({ path: paths[0]!, input }));
      return;
    }
    const rawInput = JSON.parse(url.searchParams.get('input') ?? '{}') as Record<string, { json?: unknown }> & { json?: unknown };
    if (req.headers.accept?.includes('text/event-stream')) {
      open.add(res);
      res.on('close', () => open.delete(res));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: connected\ndata: {}\n\n');
      for (const data of responder.stream({ path: paths[0]!, input: rawInput.json })) res.write(`data: ${data}\n\n`);
      return;
    }
    json(res, paths.map((path, index) => responder.answer({ path, input: rawInput[String(index)]?.json })));
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    httpUrl: `http://127.0.0.1:${port}/trpc`,
    url: `ws://127.0.0.1:${port}/ws`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
