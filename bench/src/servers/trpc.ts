import { EventEmitter, on } from 'node:events';
import { initTRPC, tracked } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import superjson from 'superjson';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import type { BenchMessage } from '../lib/payload.js';
import type { ServerConfig } from '../lib/protocol.js';
import { closeHttp, listen, notFoundServer } from './listen.js';
import { echoInput } from './echo.js';
import type { BenchServer } from './types.js';

/**
 * Stock tRPC 11 as its docs show it: `applyWSSHandler` with superjson, and a
 * subscription that is an async generator fed by an EventEmitter (`events.on`),
 * yielding tracked events. Event shapes match Herald's (`live` marker first,
 * then `{ type: 'message', message }`), so frames are the same size.
 */
export function createStockRouter(emitter: EventEmitter, position: () => string) {
  const t = initTRPC.create({ transformer: superjson });
  return t.router({
    ping: t.procedure.query(() => 'pong'),
    echo: t.procedure.input(echoInput).query(({ input }) => input),
    onMessage: t.procedure
      .input(z.object({ room: z.string(), lastEventId: z.string().nullish() }))
      .subscription(async function* ({ signal }) {
        // Listen before the marker, so nothing published in between is missed.
        const messages = on(emitter, 'message', { signal });
        yield tracked(position(), { type: 'live' as const, replayed: 0 });
        for await (const [message] of messages) {
          const typed = message as BenchMessage;
          yield tracked(String(typed.n), { type: 'message' as const, message: typed });
        }
      }),
  });
}

export async function startStockTrpc(config: ServerConfig): Promise<BenchServer> {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  let last = 0;
  const router = createStockRouter(emitter, () => String(last));
  const http = notFoundServer();
  const wss = new WebSocketServer({ server: http, path: '/ws', perMessageDeflate: false });
  const handler = applyWSSHandler({ wss, router, createContext: () => ({}) });
  const port = await listen(http, config.port);

  return {
    port,
    connectionCount: () => wss.clients.size,
    publish(message) {
      last = message.n;
      emitter.emit('message', message);
    },
    async close() {
      handler.broadcastReconnectNotification();
      wss.close();
      await closeHttp(http);
    },
  };
}
