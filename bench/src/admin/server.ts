// The server of `pnpm bench:admin` (adminCost.ts), in its own process:
//   admin/server.ts on|off
// The bench app with `admin` on or off, publishing PUBLISH_PER_SECOND
// messages round-robin over ROOMS rooms; answers `cpu` over IPC.
import { createHerald, createHeraldServer } from '@herald/server';
import { makeMessage, nowMs } from '../lib/payload.js';
import { pinSelf, SERVER_CORE } from '../lib/proc.js';
import { BENCH_SERVER_OPTIONS, createHeraldBenchApp } from '../servers/herald.js';
import { ADMIN_TOKEN, PUBLISH_PER_SECOND, ROOMS, type AdminBenchReply } from './shared.js';

pinSelf(SERVER_CORE);
const adminOn = process.argv[2] === 'on';
const herald = createHerald({ nodeId: 'bench-node' });
const app = createHeraldBenchApp(herald);
const server = await createHeraldServer({
  router: app.router,
  herald,
  port: 0,
  host: '127.0.0.1',
  ...BENCH_SERVER_OPTIONS,
  createContext: () => ({}),
  ...(adminOn ? { admin: { authenticate: (token: string) => token === ADMIN_TOKEN } } : {}),
});

// Publishes what is due since the start, so a late timer (a busy machine) does not lower the load being measured.
let n = 0;
const startedAt = performance.now();
const publisher = setInterval(() => {
  const due = Math.floor(((performance.now() - startedAt) / 1000) * PUBLISH_PER_SECOND);
  while (n < due) {
    n++;
    void app.messages.publish(`room-${n % ROOMS}`, makeMessage(n, nowMs(), 100));
  }
}, 1000 / PUBLISH_PER_SECOND);

const send = (reply: AdminBenchReply) => process.send?.(reply);
process.on('message', (message: { type: string }) => {
  if (message.type === 'cpu') {
    const usage = process.cpuUsage();
    send({ type: 'cpu', cpuUs: usage.user + usage.system, atMs: performance.now(), connections: server.connectionCount, published: n });
  } else if (message.type === 'stop') {
    clearInterval(publisher);
    void server
      .close()
      .then(() => herald.close())
      .finally(() => process.exit(0));
  }
});
send({ type: 'ready', port: server.port });
