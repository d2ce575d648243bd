import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { textFrame } from '../lib/frames.js';
import type { ServerConfig } from '../lib/protocol.js';
import { closeHttp, listen, notFoundServer } from './listen.js';
import type { BenchServer } from './types.js';

/**
 * The ceiling: a bare `ws` server. A client subscribes by sending `sub` (it
 * gets `ok`); any JSON frame with an `id` is a call, answered with tRPC's
 * answer to `ping` (parse, stringify, `ws.send`: the RPC ceiling). A message
 * is serialized once and then either
 *  - `string`: `ws.send(the string)` to every subscriber (ws frames it per socket), or
 *  - `frame`: framed once (one Buffer) and written as is to every subscriber's TCP socket.
 */
export async function startRawWs(config: ServerConfig, variant: 'string' | 'frame'): Promise<BenchServer> {
  const http = notFoundServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const subscribers = new Set<{ readonly ws: WebSocket; readonly socket: Duplex }>();
  let connections = 0;

  http.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections++;
      const subscriber = { ws, socket };
      ws.on('message', (data) => {
        const text = String(data);
        if (text === 'sub') {
          subscribers.add(subscriber);
          ws.send('ok');
        } else if (text.startsWith('{')) {
          const { id } = JSON.parse(text) as { id: number };
          ws.send(JSON.stringify({ id, result: { type: 'data', data: { json: 'pong' } } }));
        }
      });
      ws.on('error', () => undefined);
      ws.on('close', () => {
        connections--;
        subscribers.delete(subscriber);
      });
    });
  });
  const port = await listen(http, config.port);

  return {
    port,
    connectionCount: () => connections,
    publish:
      variant === 'string'
        ? (message) => {
            const text = JSON.stringify(message);
            for (const subscriber of subscribers) subscriber.ws.send(text);
          }
        : (message) => {
            const frame = textFrame(Buffer.from(JSON.stringify(message)));
            for (const subscriber of subscribers) subscriber.socket.write(frame);
          },
    async close() {
      await closeHttp(http);
    },
  };
}
