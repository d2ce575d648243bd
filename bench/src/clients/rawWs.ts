import { WebSocket } from 'ws';
import { sentAtOf } from '../lib/frames.js';
import type { SubscriberClient, SubscriberContext } from './types.js';

/** A raw `ws` receiver for the raw ws servers: `sub`, then every frame is a message (or a text `PING`, answered `PONG`; `ws` answers protocol pings itself). */
export class RawWsSubscriber implements SubscriberClient {
  private ws: WebSocket | null = null;
  private acknowledged: (() => void) | null = null;

  constructor(private readonly ctx: SubscriberContext) {}

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.ctx.url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30_000 });
      this.ws = ws;
      ws.on('message', (data) => this.onFrame(data as Buffer));
      ws.on('error', () => undefined);
      ws.once('open', () => resolve());
      ws.once('close', () => reject(new Error('closed before it opened')));
    });
  }

  subscribe(): Promise<void> {
    return new Promise((resolve) => {
      this.acknowledged = resolve;
      this.ws?.send('sub');
    });
  }

  close(): void {
    this.ws?.terminate();
  }

  private onFrame(frame: Buffer): void {
    const sentAt = sentAtOf(frame);
    if (sentAt === sentAt) {
      this.ctx.recorder.delivery(this.ctx.group, sentAt);
    } else {
      const text = String(frame);
      if (text === 'PING') {
        // tRPC's text heartbeat (the bare server's `text-ping` variant), answered as tRPC's client does.
        this.ws?.send('PONG');
      } else if (text === 'ok') {
        this.acknowledged?.();
        this.acknowledged = null;
      }
    }
  }
}
