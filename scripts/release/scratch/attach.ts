// Herald on an app's own server (docs/attach.md): compiled with the tour, not run.
import { createServer } from 'node:http';
import { initTRPC } from '@trpc/server';
import { attachHerald, transformer } from '@herald/server';

const t = initTRPC.create({ transformer });
const router = t.router({ ping: t.procedure.query(() => 'pong') });
export async function serve(): Promise<void> {
  const server = createServer((_req, res) => res.end('the app'));
  const herald = await attachHerald(server, { router, createContext: () => ({}), metrics: false });
  server.listen(0);
  await herald.close();
  server.close();
}
