// server.ts
import { initTRPC } from '@trpc/server';
import { z } from 'zod';
import { createHerald, createHeraldServer, heraldErrorFormatter, resumeInput, transformer } from '@herald/server';

const herald = createHerald(); // in-memory broker; pass { broker: redisBroker({ url }) } to scale out
const rooms = herald.channel('chat.room', {
  key: z.string().regex(/^[a-z0-9-]{1,64}$/),
  message: z.object({ text: z.string().max(2000), sentAt: z.date() }),
  presence: z.object({ name: z.string() }),
  history: { size: 1000, ttlMs: 24 * 3600_000 },
});

const t = initTRPC.context<{ name: string | null }>().create({ transformer, errorFormatter: heraldErrorFormatter });
export const router = t.router({
  send: t.procedure
    .input(z.object({ room: z.string(), text: z.string() }))
    .mutation(({ input }) => rooms.publish(input.room, { text: input.text, sentAt: new Date() })),
  onMessage: t.procedure
    .input(z.object({ room: z.string(), ...resumeInput }))
    .subscription(({ input, signal, ctx }) =>
      rooms.stream(input.room, { lastEventId: input.lastEventId, signal, presence: ctx.name ? { name: ctx.name } : undefined }),
    ),
});
export type AppRouter = typeof router;

await createHeraldServer({
  router,
  herald,
  port: 8787,
  createContext: ({ connectionParams }) => ({ name: connectionParams?.name ?? null }),
  metrics: false, // or `npm install prom-client` and drop this line to serve /metrics
});
