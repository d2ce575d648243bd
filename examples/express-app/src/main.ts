import { startExpressApp } from './app.js';

const port = Number(process.env['PORT'] ?? 3000);
const host = process.env['HOST'] || undefined;
const authSecret = process.env['AUTH_SECRET'] || undefined;
if (!authSecret) console.warn('[express-app] AUTH_SECRET is not set: tokens are signed with a random secret and end with this process');

const app = await startExpressApp({ port, ...(host ? { host } : {}), ...(authSecret ? { authSecret } : {}) });
console.log(`[express-app] listening: ${app.httpUrl}/hello, WebSocket ${app.url}, HTTP fallback ${app.httpUrl}/trpc`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`[express-app] ${signal}: draining connections`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('[express-app] shutdown failed', error);
        process.exit(1);
      },
    );
  });
}
