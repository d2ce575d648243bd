import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { ECHO_INPUT } from '../lib/payload.js';
import type { RpcCall } from '../lib/protocol.js';
import type { RpcClient } from './types.js';

/**
 * The stock `socket.io-client` (WebSocket only), calling with an acknowledged
 * emit: `socket.emit('ping', ack)`, or `socket.emit('echo', ECHO_INPUT, ack)`.
 */
export async function socketIoRpcClient(url: string, call: RpcCall): Promise<RpcClient> {
  const socket: Socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
  return {
    call:
      call === 'echo'
        ? () =>
            new Promise<void>((resolve) => {
              socket.emit('echo', ECHO_INPUT, () => resolve());
            })
        : () =>
            new Promise<void>((resolve) => {
              socket.emit('ping', () => resolve());
            }),
    close: async () => {
      socket.disconnect();
    },
  };
}

/**
 * The cheapest client of Socket.IO's protocol (engine.io 4 over a raw `ws`
 * socket), the counterpart of the minimal tRPC wire client: it connects to
 * the default namespace (`40`), calls with an acknowledged emit
 * (`42<ack id>["ping"]`, answered `43<ack id>["pong"]`) and answers the
 * server's pings (`2` with `3`). Only the ack id is read from an answer.
 */
export class SocketIoWireClient implements RpcClient {
  private nextId = 0;
  private readonly calls = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => this.onFrame(String(data)));
    ws.on('close', () => {
      for (const call of this.calls.values()) call.reject(new Error('socket closed'));
      this.calls.clear();
    });
  }

  static async connect(url: string): Promise<SocketIoWireClient> {
    const target = new URL(url);
    target.protocol = target.protocol === 'https:' ? 'wss:' : 'ws:';
    target.pathname = '/socket.io/';
    target.search = '?EIO=4&transport=websocket';
    const ws = new WebSocket(target, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30_000 });
    ws.on('error', () => undefined);
    // engine.io opens with `0{…}`; the namespace is joined once the server answers `40{…}`.
    await new Promise<void>((resolve, reject) => {
      const onMessage = (data: unknown) => {
        const text = String(data);
        if (text.startsWith('0')) ws.send('40');
        else if (text.startsWith('40')) {
          ws.off('message', onMessage);
          resolve();
        }
      };
      ws.on('message', onMessage);
      ws.once('close', () => reject(new Error('closed before it connected')));
    });
    return new SocketIoWireClient(ws);
  }

  call(): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== this.ws.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      this.calls.set(id, { resolve, reject });
      this.ws.send(`42${id}["ping"]`);
    });
  }

  close(): Promise<void> {
    this.ws.terminate();
    return Promise.resolve();
  }

  private onFrame(text: string): void {
    if (text === '2') {
      this.ws.send('3');
      return;
    }
    if (!text.startsWith('43')) return;
    const id = Number.parseInt(text.slice(2), 10);
    const call = this.calls.get(id);
    if (!call) return;
    this.calls.delete(id);
    call.resolve();
  }
}
