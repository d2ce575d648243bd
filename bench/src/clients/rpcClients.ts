import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { createHeraldClient } from '@herald/client';
import superjson from 'superjson';
import { WebSocket } from 'ws';
import { ECHO_INPUT } from '../lib/payload.js';
import type { RpcCall } from '../lib/protocol.js';
import type { BenchRouter } from '../servers/herald.js';
import type { RpcClient } from './types.js';

/** `@herald/client` (one reconnecting socket per client, frames in `encoding`) calling the trivial query or the echo. */
export function heraldRpcClient(url: string, call: RpcCall, encoding: 'json' | 'msgpack'): RpcClient {
  const client = createHeraldClient<BenchRouter>({ url, encoding });
  return {
    call:
      call === 'echo'
        ? async () => {
            await client.trpc.echo.query(ECHO_INPUT);
          }
        : async () => {
            await client.trpc.ping.query();
          },
    close: () => client.close(),
  };
}

/** The stock tRPC client: `createWSClient` + `wsLink` with superjson, as tRPC's docs set it up for Node (`ws`). */
export function stockRpcClient(url: string, call: RpcCall): RpcClient {
  const wsClient = createWSClient({ url, WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
  const client = createTRPCClient<BenchRouter>({ links: [wsLink({ client: wsClient, transformer: superjson })] });
  return {
    call:
      call === 'echo'
        ? async () => {
            await client.echo.query(ECHO_INPUT);
          }
        : async () => {
            await client.ping.query();
          },
    close: () => wsClient.close(),
  };
}
