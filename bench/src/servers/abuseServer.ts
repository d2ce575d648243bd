// The server of the abuse scenario (scenarios/abuse.ts), in its own process
// pinned to the server core by the orchestrator:
//   servers/abuseServer.ts
// Herald with its production defaults (no limit raised: what the scenario
// measures is how those defaults hold), serving a small chat-like router.
// Says `ready` with its port over IPC, then answers `fill` and `collect`.
import { initTRPC } from '@trpc/server';
import { createHerald, createHeraldServer, heraldErrorFormatter, transformer } from '@herald/server';
import { pino } from 'pino';
import { z } from 'zod';
import { emitEvent, serveIpc } from '../lib/ipc.js';
import { ABUSE_ROOM, HISTORY_LIMIT, type AbuseServerCommands } from './abuseShared.js';

const herald = createHerald();
const room = herald.channel('room', {
  key: z.string().min(1).max(64),
  message: z.object({ n: z.number().int(), text: z.string().max(2_000) }),
});
const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
const router = t.router({
  ping: t.procedure.query(() => 'pong'),
  history: t.procedure
    .input(z.object({ room: z.string().min(1).max(64), limit: z.number().int().min(1).max(HISTORY_LIMIT).default(HISTORY_LIMIT) }))
    .query(async ({ input }) => (await room.history(input.room, { limit: input.limit })).messages.map((entry) => entry.message)),
});

const server = await createHeraldServer({
  router,
  herald,
  port: 0,
  host: '127.0.0.1',
  // Silent as in every bench server (refusals are read from /metrics); no limit is changed.
  logger: pino({ level: 'silent' }),
  createContext: () => ({}),
});

serveIpc<AbuseServerCommands>({
  async fill({ messages, chars }) {
    const text = 'm'.repeat(chars);
    for (let n = 0; n < messages; n++) await room.publish(ABUSE_ROOM, { n, text });
    return { published: messages };
  },
  memory() {
    const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
    return { rss, heapUsed, external, arrayBuffers };
  },
  async collect() {
    const gc = (globalThis as { gc?: () => void }).gc;
    for (let i = 0; i < 3 && gc; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { rss: process.memoryUsage().rss };
  },
});

process.on('SIGTERM', () => {
  void server
    .close()
    .then(() => herald.close())
    .finally(() => process.exit(0));
});
emitEvent('ready', { port: server.port });
