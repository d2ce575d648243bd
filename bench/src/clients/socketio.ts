import { io, type Socket } from 'socket.io-client';
import type { BenchMessage } from '../lib/payload.js';
import { ROOM, type SubscriberClient, type SubscriberContext } from './types.js';

/** The stock `socket.io-client` over WebSocket only; `sub` joins the room. */
export class SocketIoSubscriber implements SubscriberClient {
  private socket: Socket | null = null;

  constructor(private readonly ctx: SubscriberContext) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = io(this.ctx.url, { transports: ['websocket'], forceNew: true, reconnection: false, timeout: 30_000 });
      this.socket = socket;
      socket.on('m', (message: BenchMessage) => this.ctx.recorder.delivery(this.ctx.group, message.sentAt));
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(error));
    });
  }

  subscribe(): Promise<void> {
    return new Promise((resolve) => {
      this.socket?.emit('sub', ROOM, () => resolve());
    });
  }

  close(): void {
    this.socket?.disconnect();
  }
}
