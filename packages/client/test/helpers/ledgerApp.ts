/**
 * A test app for the outbox: `write({ n })` runs once per idempotency key on
 * a Herald server, counts how often each `n` ran, and publishes `{ n }` to
 * the `ledger` channel; `entries` streams them with resume.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createHerald, createHeraldServer, heraldErrorFormatter, resumeInput, transformer } from '@herald/server';

export function createLedgerApp() {
  const herald = createHerald();
  const ledger = herald.channel('ledger', {
    key: z.string().min(1).max(32),
    message: z.object({ n: z.number().int() }),
    history: { size: 10_000, ttlMs: 600_000 },
  });
  /** How many times each `n` ran. */
  const runs = new Map<number, number>();
  const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    write: t.procedure.input(z.object({ book: z.string(), n: z.number().int() })).mutation(async ({ input }) => {
      if (input.n < 0) throw new TRPCError({ code: 'BAD_REQUEST', message: 'n must not be negative' });
      runs.set(input.n, (runs.get(input.n) ?? 0) + 1);
      const id = await ledger.publish(input.book, { n: input.n });
      return { n: input.n, id, at: new Date() };
    }),
    entries: t.procedure
      .input(z.object({ book: z.string(), ...resumeInput }))
      .subscription(({ input, signal }) => ledger.stream(input.book, { lastEventId: input.lastEventId, signal })),
  });
  return { herald, ledger, runs, router };
}

export type LedgerRouter = ReturnType<typeof createLedgerApp>['router'];

export async function startLedgerServer(options: { port?: number; maxPayloadBytes?: number } = {}) {
  const app = createLedgerApp();
  const server = await createHeraldServer({
    router: app.router,
    herald: app.herald,
    port: options.port ?? 0,
    host: '127.0.0.1',
    metrics: false,
    ...(options.maxPayloadBytes !== undefined ? { limits: { maxPayloadBytes: options.maxPayloadBytes } } : {}),
    createContext: () => ({}),
  });
  return {
    app,
    server,
    url: `ws://127.0.0.1:${server.port}/ws`,
    async close() {
      await server.close();
      await app.herald.close();
    },
  };
}
