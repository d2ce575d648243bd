import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { textFrame } from '../lib/frames.js';
import type { ServerConfig } from '../lib/protocol.js';
import { closeHttp, listen, notFoundServer } from './listen.js';
import type { BenchServer } from './types.js';

/**
 * The ceiling: a bare `ws` server. A client subscribes by sending `sub` (it
 * gets `ok`); any JSON frame with an `id` is a call, answered with tRPC's
 * answer to `ping`, or for path `echo` with its input (parse, stringify,
 * `ws.send`: the RPC ceiling). A message
 * is serialized once and then either
 *  - `string`: `ws.send(the string)` to every subscriber (ws frames it per socket), or
 *  - `frame`: framed once (one Buffer) and written as is to every subscriber's TCP socket, or
 *  - `trpc`: the same as `string`, but speaking tRPC's wire protocol as Herald
 *    does: a `subscription` request is answered with `started` and a live
 *    marker, and every message goes out as a tracked tRPC data frame (built
 *    once per distinct subscription id). What separates it from `string` is
 *    the protocol (bigger frames, a client that parses them); what separates
 *    Herald from it is Herald.
 *  - `ping`: `string`, plus the bare heartbeat: `ws.ping()` to every socket
 *    once per `BARE_PING_PERIOD_MS`, spread over that period in ticks like
 *    Herald's sweep, and a count of the pongs (`framesIn`). What separates
 *    Herald's idle CPU from it is Herald's heartbeat, not heartbeats as such.
 *  - `text-ping`: the same with tRPC's heartbeat, text frames: `ws.send('PING')`,
 *    answered `PONG` by the client (a data frame, where `ws.ping()` is a control frame).
 */
export async function startRawWs(config: ServerConfig, variant: 'string' | 'frame' | 'trpc' | 'ping' | 'text-ping'): Promise<BenchServer> {
  const http = notFoundServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false });
  const subscribers = new Set<{ readonly ws: WebSocket; readonly socket: Duplex; subscriptionId: number | string }>();
  let connections = 0;
  let position = 0;
  const pinger = variant === 'ping' || variant === 'text-ping' ? new BarePinger(variant === 'text-ping') : null;

  http.on('upgrade', (req, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections++;
      const subscriber = { ws, socket, subscriptionId: 0 as number | string };
      pinger?.add(ws);
      ws.on('message', (data) => {
        const text = String(data);
        if (text === 'PONG' && pinger) {
          pinger.pongs++;
        } else if (text === 'sub') {
          subscribers.add(subscriber);
          ws.send('ok');
        } else if (text.startsWith('{')) {
          const { id, method, params } = JSON.parse(text) as { id: number | string; method?: string; params?: { path?: string; input?: unknown } };
          if (method === 'subscription') {
            subscriber.subscriptionId = id;
            subscribers.add(subscriber);
            const marker = `${Date.now()}-${position}`;
            ws.send(`{"id":${JSON.stringify(id)},"result":{"type":"started"}}`);
            ws.send(`{"id":${JSON.stringify(id)},"result":{"type":"data","id":"${marker}","data":{"json":{"id":"${marker}","data":{"type":"live","replayed":0}}}}}`);
          } else if (params?.path === 'echo') {
            ws.send(JSON.stringify({ id, result: { type: 'data', data: params.input } }));
          } else {
            ws.send(JSON.stringify({ id, result: { type: 'data', data: { json: 'pong' } } }));
          }
        }
      });
      ws.on('error', () => undefined);
      ws.on('close', () => {
        connections--;
        subscribers.delete(subscriber);
        pinger?.delete(ws);
      });
    });
  });
  const port = await listen(http, config.port);

  return {
    port,
    connectionCount: () => connections,
    ...(pinger ? { framesIn: () => pinger.pongs } : {}),
    publish:
      variant === 'string' || variant === 'ping' || variant === 'text-ping'
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
      pinger?.stop();
      await closeHttp(http);
    },
  };
}

/**
 * Herald's effective ping period for an idle socket at its defaults: quiet
 * for `pingIntervalMs` (10 s), noticed at the next visit of its slot, one
 * sweep (5 s) later, since the answer to the last ping arrived just after
 * that visit. Ticks of `BARE_TICK_MS` as Herald's wheel (25 slots of 200 ms).
 */
const BARE_PING_PERIOD_MS = 15_000;
const BARE_TICK_MS = 200;

/**
 * The bare heartbeat: a wheel of sockets, one slot pinged per tick with
 * `ws.ping()` (pongs counted by one shared listener), or with `ws.send('PING')`
 * when `text` (the server's message listener counts the `PONG`s).
 */
class BarePinger {
  pongs = 0;
  constructor(private readonly text: boolean) {}
  private readonly slots = Array.from({ length: BARE_PING_PERIOD_MS / BARE_TICK_MS }, () => new Set<WebSocket>());
  private readonly slotOf = new Map<WebSocket, number>();
  private cursor = 0;
  private dealt = 0;
  private readonly timer = setInterval(() => this.tick(), BARE_TICK_MS);
  private readonly onPong = () => {
    this.pongs++;
  };

  add(ws: WebSocket): void {
    const slot = this.dealt;
    this.dealt = (slot + 1) % this.slots.length;
    this.slots[slot]!.add(ws);
    this.slotOf.set(ws, slot);
    if (!this.text) ws.on('pong', this.onPong);
  }

  delete(ws: WebSocket): void {
    const slot = this.slotOf.get(ws);
    if (slot === undefined) return;
    this.slots[slot]!.delete(ws);
    this.slotOf.delete(ws);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const slot = this.slots[this.cursor]!;
    this.cursor = (this.cursor + 1) % this.slots.length;
    for (const ws of slot) {
      if (ws.readyState !== ws.OPEN) continue;
      if (this.text) ws.send('PING');
      else ws.ping();
    }
  }
}
