import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisBroker } from '@herald/server/redis';
import { startChatServer } from './app.js';

const port = Number(process.env['PORT'] ?? 8787);
const authSecret = process.env['AUTH_SECRET'];
if (!authSecret) {
  console.warn('[chat-server] AUTH_SECRET is not set: using a random secret, so tokens are good on this process only.');
}

const redisUrl = process.env['REDIS_URL'];
const nodeId = process.env['NODE_ID'];
// The web app built by `pnpm --filter @herald/example-chat-web build` (root `pnpm start` does it).
const staticDir = process.env['STATIC_DIR'] ?? fileURLToPath(new URL('../../chat-web/dist', import.meta.url));
const serveWeb = existsSync(join(staticDir, 'index.html'));
if (!serveWeb) {
  console.warn(`[chat-server] no web app in ${staticDir}: build it with \`pnpm --filter @herald/example-chat-web build\` to serve it at /`);
}
// Production settings: browser origins allowed to connect, a proxy in front, TLS.
const allowedOrigins = process.env['ALLOWED_ORIGINS']?.split(',').map((origin) => origin.trim()).filter(Boolean);
const trustProxy = process.env['TRUST_PROXY'] === '1';
const tlsKeyFile = process.env['TLS_KEY_FILE'];
const tlsCertFile = process.env['TLS_CERT_FILE'];
const tls = tlsKeyFile && tlsCertFile ? { key: readFileSync(tlsKeyFile), cert: readFileSync(tlsCertFile) } : undefined;
const chat = await startChatServer({
  port,
  ...(authSecret ? { authSecret } : {}),
  ...(redisUrl ? { broker: redisBroker({ url: redisUrl }) } : {}),
  ...(nodeId ? { nodeId } : {}),
  ...(serveWeb ? { staticDir } : {}),
  ...(allowedOrigins?.length ? { allowedOrigins } : {}),
  ...(trustProxy ? { trustProxy } : {}),
  ...(tls ? { tls } : {}),
});
console.log(`[chat-server] broker: ${redisUrl ? `redis (${redisUrl})` : 'in-memory (set REDIS_URL to share one Redis between nodes)'}`);
console.log(`[chat-server] listening: WebSocket ${chat.server.url}, health ${chat.server.httpUrl}/healthz`);
if (serveWeb) console.log(`[chat-server] web app: ${chat.server.httpUrl.replace('127.0.0.1', 'localhost')}/`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    // Drain: /readyz turns 503 and new connections are refused at once, clients are
    // told to move, calls in flight get their answers, then sockets close.
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
