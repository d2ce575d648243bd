import type { RpcKind, SubscriberKind } from '../lib/protocol.js';
import { HeraldClientSubscriber } from './heraldSubscriber.js';
import { SocketIoSubscriber } from './socketio.js';
import { RawWsSubscriber } from './rawWs.js';
import { heraldRpcClient, stockRpcClient } from './rpcClients.js';
import { socketIoRpcClient, SocketIoWireClient } from './socketioRpc.js';
import { TrpcWireClient, type ReconnectPolicy, type ReconnectStats } from './trpcWire.js';
import type { RpcClient, SubscriberClient, SubscriberContext } from './types.js';

export interface Resumable {
  armResume(): void;
  readonly resumed: boolean;
}

/** A fan-out receiver of `kind`; only trpc-wire clients reconnect (the storm scenario). */
export function createSubscriber(
  kind: SubscriberKind,
  ctx: SubscriberContext,
  reconnect: { policy: ReconnectPolicy; stats: ReconnectStats; onResumed: (atMs: number) => void } | null,
): SubscriberClient & Partial<Resumable> {
  switch (kind) {
    case 'raw-ws':
      return new RawWsSubscriber(ctx);
    case 'socketio':
      return new SocketIoSubscriber(ctx);
    case 'trpc-wire':
      return new TrpcWireClient(ctx, reconnect);
    case 'herald-client':
      return new HeraldClientSubscriber(ctx);
  }
}

/** A connection that makes RPC calls. Calls record nothing themselves; the caller times them. */
export async function createRpcClient(kind: RpcKind, ctx: SubscriberContext): Promise<RpcClient> {
  switch (kind) {
    case 'trpc-wire': {
      const client = new TrpcWireClient(ctx);
      await client.connect();
      return client;
    }
    case 'herald-client':
      return heraldRpcClient(ctx.url, ctx.rpcCall ?? 'ping', ctx.encoding ?? 'json');
    case 'trpc-client':
      return stockRpcClient(ctx.url, ctx.rpcCall ?? 'ping');
    case 'socketio-client':
      return socketIoRpcClient(ctx.url, ctx.rpcCall ?? 'ping');
    case 'socketio-wire':
      if (ctx.rpcCall === 'echo') throw new Error('the minimal Socket.IO client only calls ping');
      return SocketIoWireClient.connect(ctx.url);
  }
}
