import { redisBroker } from '@herald/server/redis';
import { startChatServer } from './app.js';

const port = Number(process.env['PORT'] ?? 8787);
const authSecret = process.env['AUTH_SECRET'];
if (!authSecret) {
  console.warn('[chat-server] AUTH_SECRET is not set: using a random secret, so tokens are good on this process only.');
}

const redisUrl = process.env['REDIS_URL'];
const nodeId = process.env['NODE_ID'];
const chat = await startChatServer({
  port,
  ...(authSecret ? { authSecret } : {}),
  ...(redisUrl ? { broker: redisBroker({ url: redisUrl }) } : {}),
  ...(nodeId ? { nodeId } : {}),
});
console.log(`[chat-server] broker: ${redisUrl ? `redis (${redisUrl})` : 'in-memory (set REDIS_URL to share one Redis between nodes)'}`);
console.log(`[chat-server] listening: WebSocket ${chat.server.url}, health ${chat.server.httpUrl}/healthz`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`[chat-server] ${signal}: draining connections`);
    chat.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('[chat-server] shutdown failed', error);
        process.exit(1);
      },
    );
  });
}
