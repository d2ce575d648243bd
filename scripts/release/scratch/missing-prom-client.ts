// A server with metrics on (the default) where prom-client is not installed
// must refuse to start, saying what to do.
import { initTRPC } from '@trpc/server';
import { createHeraldServer, transformer } from '@herald/server';

const t = initTRPC.create({ transformer });
const router = t.router({ ping: t.procedure.query(() => 'pong') });
try {
  const server = await createHeraldServer({ router, port: 0, createContext: () => ({}) });
  await server.close();
  console.error('createHeraldServer started with metrics on and no prom-client');
  process.exit(1);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  if (!message.includes('npm install prom-client') || !message.includes('metrics: false')) throw error;
  console.log(`refused as expected: ${message}`);
}
