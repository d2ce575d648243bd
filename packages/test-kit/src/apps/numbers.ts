import { initTRPC } from '@trpc/server';
import { z } from 'zod';
import {
  createHerald,
  createHeraldServer,
  heraldErrorFormatter,
  resumeInput,
  transformer,
  type Broker,
  type HeartbeatOptions,
} from '@herald/server';
import { served, type Served } from './served.js';

/**
 * A minimal app for channel tests: one `numbers` channel keyed by stream name,
 * whose messages are `{ n }`, and a presence-carrying subscription.
 */
export function createNumbersApp(options: { broker?: Broker; historySize?: number; ttlMs?: number; nodeId?: string } = {}) {
  const herald = createHerald({
    ...(options.broker ? { broker: options.broker } : {}),
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
  });
  const numbers = herald.channel('numbers', {
    key: z.string().min(1).max(32),
    message: z.object({ n: z.number().int() }),
    presence: z.object({ name: z.string() }),
    history: { size: options.historySize ?? 100, ttlMs: options.ttlMs ?? 60_000 },
  });
  const t = initTRPC.context<{ name: string | null }>().create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    publish: t.procedure
      .input(z.object({ stream: z.string(), n: z.number() }))
      .mutation(({ input }) => numbers.publish(input.stream, { n: input.n })),
    numbers: t.procedure
      .input(z.object({ stream: z.string(), ...resumeInput }))
      .subscription(({ input, signal, ctx }) =>
        numbers.stream(input.stream, { lastEventId: input.lastEventId, signal, presence: ctx.name ? { name: ctx.name } : undefined }),
      ),
    members: t.procedure.input(z.object({ stream: z.string() })).query(({ input }) => numbers.members(input.stream)),
    presence: t.procedure
      .input(z.object({ stream: z.string() }))
      .subscription(({ input, signal }) => numbers.presenceEvents(input.stream, { signal })),
    /** Which node answered: tells a test where a client (or a load balancer) put its connection. */
    node: t.procedure.query(() => ({ nodeId: herald.nodeId })),
  });
  return { herald, numbers, router };
}

export type NumbersRouter = ReturnType<typeof createNumbersApp>['router'];

export type NumbersServer = Served<ReturnType<typeof createNumbersApp>>;

export async function startNumbersServer(
  options: { broker?: Broker; historySize?: number; port?: number; heartbeat?: HeartbeatOptions; nodeId?: string } = {},
): Promise<NumbersServer> {
  const app = createNumbersApp(options);
  const server = await createHeraldServer({
    router: app.router,
    herald: app.herald,
    port: options.port ?? 0,
    host: '127.0.0.1',
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
    createContext: ({ connectionParams }) => ({ name: connectionParams?.['name'] ?? null }),
  });
  return served(app, server);
}
