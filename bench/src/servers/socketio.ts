import { Server } from 'socket.io';
import type { ServerConfig } from '../lib/protocol.js';
import { closeHttp, listen, notFoundServer } from './listen.js';
import { ROOM, type BenchServer } from './types.js';

/**
 * Socket.IO 4 over WebSocket only (no polling). A client subscribes by
 * emitting `sub` with the room (acknowledged once joined); a message goes out
 * with `io.to(room).emit`, which encodes it once for all. The RPC scenario's
 * call is an emit with acknowledgement: `ping` is answered with `'pong'`, `echo`
 * with its argument.
 */
export async function startSocketIo(config: ServerConfig): Promise<BenchServer> {
  const http = notFoundServer();
  const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
  io.on('connection', (socket) => {
    socket.on('sub', (room: unknown, ack: unknown) => {
      void socket.join(String(room));
      if (typeof ack === 'function') ack();
    });
    socket.on('ping', (ack: unknown) => {
      if (typeof ack === 'function') ack('pong');
    });
    socket.on('echo', (input: unknown, ack: unknown) => {
      if (typeof ack === 'function') ack(input);
    });
  });
  const port = await listen(http, config.port);

  return {
    port,
    connectionCount: () => io.engine.clientsCount,
    publish(message) {
      io.to(ROOM).emit('m', message);
    },
    async close() {
      await io.close();
      await closeHttp(http).catch(() => undefined);
    },
  };
}
