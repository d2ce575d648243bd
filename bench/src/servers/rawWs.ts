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
 *  - `frame`: framed once (one Buffer) and written as is to every subscriber's TCP socket, or
 *  - `trpc`: the same as `string`, but speaking tRPC's wire protocol as Herald
 *    does: a `subscription` request is answered with `started` and a live
 *    marker, and every message goes out as a tracked tRPC data frame (built
 *    once per distinct subscription id). What separates it from `string` is
 *    the protocol (bigger frames, a client that parses them); what separates
 *    Herald from it is Herald.
 */
export async function startRawWs(config: ServerConfig, variant: 'string' | 'frame' | 'trpc'): Promise<BenchServer> {
  const http = notFoundServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const subscribers = new Set<{ readonly ws: WebSocket; readonly socket: Duplex; subscriptionId: number | string }>();
  let connections = 0;
  let position = 0;

  http.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections++;
      const subscriber = { ws, socket, subscriptionId: 0 as number | string };
      ws.on('message', (data) => {
        const text = String(data);
        if (text === 'sub') {
          subscribers.add(subscriber);
          ws.send('ok');
        } else if (text.startsWith('{')) {
          const { id, method } = JSON.parse(text) as { id: number | string; method?: string };
          if (method === 'subscription') {
            subscriber.subscriptionId = id;
            subscribers.add(subscriber);
            const marker = `${Date.now()}-${position}`;
            ws.send(`{"id":${JSON.stringify(id)},"result":{"type":"started"}}`);
            ws.send(`{"id":${JSON.stringify(id)},"result":{"type":"data","id":"${marker}","data":{"json":{"id":"${marker}","data":{"type":"live","replayed":0}}}}}`);
          } else {
            ws.send(JSON.stringify({ id, result: { type: 'data', data: { json: 'pong' } } }));
          }
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
        : variant === 'frame'
          ? (message) => {
              const frame = textFrame(Buffer.from(JSON.stringify(message)));
              for (const subscriber of subscribers) subscriber.socket.write(frame);
            }
          : (message) => {
              const id = `${Date.now()}-${++position}`;
              const tail = `"result":{"type":"data","id":"${id}","data":{"json":{"id":"${id}","data":{"type":"message","message":${JSON.stringify(message)}}}}}}`;
              const texts = new Map<number | string, string>();
              for (const subscriber of subscribers) {
                let text = texts.get(subscriber.subscriptionId);
                if (text === undefined) {
                  text = `{"id":${JSON.stringify(subscriber.subscriptionId)},${tail}`;
                  texts.set(subscriber.subscriptionId, text);
                }
                subscriber.ws.send(text);
              }
            },
    async close() {
      await closeHttp(http);
    },
  };
}
