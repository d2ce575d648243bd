import { createHeraldClient, type HeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import type { BenchRouter } from '../servers/herald.js';
import { ROOM, type SubscriberClient, type SubscriberContext } from './types.js';

/**
 * `@herald/client` itself as a fan-out receiver, over the transport the plan
 * names: one client (one WebSocket, or one Server-Sent Events stream over
 * HTTP) and one channel subscription each, as an app would hold them. Unlike
 * the minimal wire client it parses every frame, so its own CPU is part of
 * what the load generator's figures show.
 */
export class HeraldClientSubscriber implements SubscriberClient {
  private client: HeraldClient<BenchRouter> | null = null;
  private subscription: { unsubscribe(): void } | null = null;

  constructor(private readonly ctx: SubscriberContext) {}

  connect(): Promise<void> {
    const client = createHeraldClient<BenchRouter>({
      url: this.ctx.url,
      transport: this.ctx.transport ?? 'websocket',
      http: httpTransport,
      encoding: this.ctx.encoding ?? 'json',
    });
    this.client = client;
    if (client.connection.current.status === 'open') return Promise.resolve();
    return new Promise((resolve) => {
      const stop = client.connection.subscribe((state) => {
        if (state.status !== 'open') return;
        stop();
        resolve();
      });
    });
  }

  subscribe(): Promise<void> {
    const client = this.client;
    if (!client) return Promise.reject(new Error('subscribe before connect'));
    const { group, recorder } = this.ctx;
    return new Promise((resolve, reject) => {
      this.subscription = client.trpc.onMessage.subscribe(
        { room: ROOM },
        {
          onData: ({ data: event }) => {
            if (event.type === 'message') recorder.delivery(group, event.message.sentAt);
            else if (event.type === 'live') resolve();
            // A gap means the subscriber fell behind history: count it, as a lost delivery would be.
            else recorder.error();
          },
          onError: (error) => {
            recorder.error();
            reject(error);
          },
        },
      );
    });
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = null;
    void this.client?.close();
    this.client = null;
  }
}
