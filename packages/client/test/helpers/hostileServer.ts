/**
 * A fake tRPC WebSocket server that answers calls with whatever frames a test
 * hands it, malformed ones included.
 *
 * Why a fake: a real Herald server cannot produce these frames. Every answer
 * it sends goes through the shared superjson transformer and tRPC's envelope,
 * so it never sends `{"result":"garbage"}`, an error that is not an error
 * shape, or a superjson value of a type the client does not know. A server on
 * a newer `@herald/shared`, a proxy that rewrites frames, or a bug can; the
 * client must survive them (issue 32, item 1).
 *
 * It speaks just enough of tRPC's WebSocket protocol (docs: /work/shared/TRPC-WIRE.md):
 * `PING` is answered `PONG`; a request (alone or in a batch array) is handed
 * to `respond`, whose frames are sent as they are; `subscription.stop` and
 * `connectionParams` frames are recorded and otherwise ignored.
 *
 * To extend it, add a frame builder below or pass another `respond`.
 */
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** A call as the client sent it. */
export interface HostileRequest {
  readonly id: number;
  readonly method: 'query' | 'mutation' | 'subscription';
  readonly path: string;
  /** The superjson-serialized input (`{ json, meta? }`), as sent. */
  readonly input: { readonly json?: unknown } | undefined;
}

/** The text frames to answer one request with, in order. */
export type Responder = (request: HostileRequest) => readonly string[];

export interface HostileServer {
  readonly url: string;
  /** Ids the client asked to stop (`subscription.stop`). */
  readonly stopped: number[];
  /** Sends `frame` as it is on every open socket. */
  broadcast(frame: string): void;
  close(): Promise<void>;
}

/** Starts a fake server on port 0 that answers each request with `respond(request)`. */
export async function startHostileServer(respond: Responder): Promise<HostileServer> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const sockets = new Set<WebSocket>();
  const stopped: number[] = [];

  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('message', (raw) => {
      const text = String(raw);
      if (text === 'PING') {
        socket.send('PONG');
        return;
      }
      const parsed = JSON.parse(text) as unknown;
      for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
        const { id, method, params } = message as { id?: unknown; method?: unknown; params?: { path?: unknown; input?: unknown } };
        if (method === 'subscription.stop' && typeof id === 'number') stopped.push(id);
        if ((method === 'query' || method === 'mutation' || method === 'subscription') && typeof id === 'number') {
          const request: HostileRequest = { id, method, path: String(params?.path), input: params?.input as HostileRequest['input'] };
          for (const frame of respond(request)) socket.send(frame);
        }
      }
    });
  });

  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stopped,
    broadcast(frame) {
      for (const socket of sockets) socket.send(frame);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.terminate();
        server.close(() => resolve());
      }),
  };
}

/** A well-formed answer: `data` is JSON that superjson revives as itself. */
export function dataFrame(id: number, data: unknown, trackedId?: string): string {
  return JSON.stringify({ id, result: { type: 'data', data: { json: data }, ...(trackedId === undefined ? {} : { id: trackedId }) } });
}

/** A subscription's `started` frame. */
export function startedFrame(id: number): string {
  return JSON.stringify({ id, result: { type: 'started' } });
}
