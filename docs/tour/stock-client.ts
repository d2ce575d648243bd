// stock-client.ts: the stock tRPC client works too, with Herald's transformer
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { transformer } from '@herald/client';
import { WebSocket } from 'ws';
import type { AppRouter } from './server.js';

// Node 20 has no global WebSocket: pass ws's (npm install ws). Browsers and Node 22+ leave `WebSocket` out.
// The cast: @types/node types the global one (undici's), which ws's class does not match in every detail.
const wsClient = createWSClient({ url: 'ws://localhost:8787/ws', WebSocket: WebSocket as unknown as typeof globalThis.WebSocket });
const trpc = createTRPCClient<AppRouter>({ links: [wsLink({ client: wsClient, transformer })] });
console.log('published as', await trpc.send.mutate({ room: 'lobby', text: 'hi from the stock client' }));
await wsClient.close();
