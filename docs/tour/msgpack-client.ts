// msgpack-client.ts: both clients speaking MessagePack, bytes as bytes
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { createHeraldClient, msgpackEncoder, transformer } from '@herald/client';
import { WebSocket } from 'ws';
import type { AppRouter } from './server.js';

// Herald's client: offers the herald.msgpack subprotocol, and speaks JSON to a server that does not pick it.
const client = createHeraldClient<AppRouter>({ url: 'ws://localhost:8787/ws', encoding: 'msgpack' });
console.log('published as', await client.trpc.send.mutate({ room: 'lobby', text: 'hi in MessagePack' }));
await client.close();

// The stock client: tRPC's encoder hook. It offers no subprotocol, so its first frame (binary) tells the server.
const wsClient = createWSClient({
  url: 'ws://localhost:8787/ws',
  WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
  experimental_encoder: msgpackEncoder,
});
const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer })] });
console.log('published as', await trpc.send.mutate({ room: 'lobby', text: 'hi from the stock client, in MessagePack' }));
await wsClient.close();
