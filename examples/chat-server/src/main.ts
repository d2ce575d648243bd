import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisBroker } from '@herald/server/redis';
import { startChatServer } from './app.js';
import { DEFAULT_TOKEN_TTL_S } from './auth.js';
import { loadOrCreateDevSecret } from './devSecret.js';

const port = Number(process.env['PORT'] ?? 8787);
// Every interface unless HOST names one (HOST=127.0.0.1 keeps the demo off the network).
const host = process.env['HOST'] || undefined;
const authSecret = process.env['AUTH_SECRET'] || developmentSecret();
const tokenTtlSeconds = wholeSeconds('TOKEN_TTL_S', DEFAULT_TOKEN_TTL_S);

const redisUrl = process.env['REDIS_URL'];
// A Redis Cluster's seed nodes, comma-separated (`redis://127.0.0.1:7000,redis://127.0.0.1:7001`); it wins over REDIS_URL.
const redisClusterUrls = process.env['REDIS_CLUSTER_URLS']?.split(',').map((url) => url.trim()).filter(Boolean);
const broker = redisClusterUrls?.length
  ? redisBroker({ clusterUrls: redisClusterUrls })
  : redisUrl
    ? redisBroker({ url: redisUrl })
    : undefined;
const brokerLabel = redisClusterUrls?.length
  ? `redis cluster (seeds ${redisClusterUrls.join(', ')})`
  : redisUrl
    ? `redis (${redisUrl})`
    : 'in-memory (set REDIS_URL or REDIS_CLUSTER_URLS to share Redis between nodes)';
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
// The admin page at /admin, only when ADMIN_TOKEN is set (its "Admin token" field takes it).
const adminToken = process.env['ADMIN_TOKEN'] || undefined;
const tls = tlsKeyFile && tlsCertFile ? { key: readFileSync(tlsKeyFile), cert: readFileSync(tlsCertFile) } : undefined;
const chat = await startChatServer({
  port,
  ...(host ? { host } : {}),
  authSecret,
  tokenTtlSeconds,
  ...(broker ? { broker } : {}),
  ...(nodeId ? { nodeId } : {}),
  ...(serveWeb ? { staticDir } : {}),
  ...(allowedOrigins?.length ? { allowedOrigins } : {}),
  ...(trustProxy ? { trustProxy } : {}),
  ...(tls ? { tls } : {}),
  ...(adminToken ? { adminToken } : {}),
});
console.log(`[chat-server] broker: ${brokerLabel}`);
console.log(`[chat-server] tokens expire after ${tokenTtlSeconds} s (TOKEN_TTL_S); clients refresh them with auth.refresh`);
console.log(`[chat-server] listening: WebSocket ${chat.server.url}, health ${chat.server.httpUrl}/healthz`);
console.log(
  adminToken
    ? `[chat-server] admin page: ${chat.server.httpUrl.replace('127.0.0.1', 'localhost')}/admin/ (the token is ADMIN_TOKEN)`
    : '[chat-server] admin page off (set ADMIN_TOKEN to serve it at /admin)',
);
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

/**
 * Without `AUTH_SECRET`, tokens are signed with a secret kept in a git-ignored
 * file of the project, so restarting the demo keeps everyone signed in.
 * `DEV_SECRET_FILE` moves the file (tests point it into a temporary folder).
 */
function developmentSecret(): string {
  const file = resolve(process.env['DEV_SECRET_FILE'] || fileURLToPath(new URL('../.dev-secret', import.meta.url)));
  const { secret, created } = loadOrCreateDevSecret(file);
  console.log(`[chat-server] AUTH_SECRET is not set: signing tokens with the development secret ${created ? 'just written to' : 'kept in'} ${file} (set AUTH_SECRET to override it)`);
  return secret;
}

/** A positive whole number of seconds from the environment, or `fallback` when unset. */
function wholeSeconds(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`[chat-server] ${name} must be a whole number of seconds, at least 1 (got ${JSON.stringify(raw)})`);
    process.exit(1);
  }
  return value;
}
