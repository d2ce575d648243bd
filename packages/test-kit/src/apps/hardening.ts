/**
 * The app of the production-hardening suites (security, limits, drain,
 * payloads, observability, bad input): a small router over one `numbers`
 * channel with every knob of `createHeraldServer` reachable.
 */
import { initTRPC } from '@trpc/server';
import { z } from 'zod';
import {
  createHerald,
  createHeraldServer,
  heraldErrorFormatter,
  resumeInput,
  transformer,
  type Authorize,
  type Broker,
  type HeraldServerOptions,
} from '@herald/server';
import { startAttached } from './attached.js';
import { startHonoFetch } from './honoFetch.js';
import { served, type Served } from './served.js';

export interface TestUser {
  readonly id: string;
  readonly role?: string;
}

export interface HardeningContext {
  readonly user: TestUser | null;
}

export interface HardeningAppOptions {
  readonly broker?: Broker;
  readonly nodeId?: string;
  readonly historySize?: number;
  readonly authorize?: Authorize<HardeningContext>;
}

/** Gates the `slow` mutation waits on, by name: a test opens them when it wants the answer. */
export class Gates {
  private readonly waiting = new Map<string, () => void>();
  private readonly started = new Map<string, { readonly promise: Promise<void>; readonly resolve: () => void }>();

  wait(name: string, signal: AbortSignal): Promise<void> {
    this.startOf(name).resolve();
    return new Promise<void>((resolve) => {
      this.waiting.set(name, resolve);
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  /** Resolves once the `slow` call named `name` is running (at once if it already is). */
  entered(name: string): Promise<void> {
    return this.startOf(name).promise;
  }

  open(name: string): void {
    this.waiting.get(name)?.();
    this.waiting.delete(name);
  }

  private startOf(name: string): { readonly promise: Promise<void>; readonly resolve: () => void } {
    let start = this.started.get(name);
    if (!start) {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((done) => (resolve = done));
      start = { promise, resolve };
      this.started.set(name, start);
    }
    return start;
  }
}

const NumberMessage = z.object({
  n: z.number().int(),
  /** Padding, to make messages big (slow-consumer tests). */
  pad: z.string().max(65_536).optional(),
  bytes: z.instanceof(Uint8Array).optional(),
});

export function createHardeningApp(options: HardeningAppOptions = {}) {
  const herald = createHerald<HardeningContext>({
    ...(options.broker ? { broker: options.broker } : {}),
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    ...(options.authorize ? { authorize: options.authorize } : {}),
    onError: () => undefined,
  });
  const numbers = herald.channel('numbers', {
    key: z.string().min(1).max(64),
    message: NumberMessage,
    history: { size: options.historySize ?? 1_000, ttlMs: 60_000 },
  });
  const gates = new Gates();
  const t = initTRPC.context<HardeningContext>().create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    add: t.procedure.input(z.object({ a: z.number(), b: z.number() })).query(({ input }) => input.a + input.b),
    whoami: t.procedure.query(({ ctx }) => ctx.user),
    echoBytes: t.procedure
      .input(z.object({ bytes: z.instanceof(Uint8Array) }))
      .mutation(({ input }) => ({ bytes: input.bytes, length: input.bytes.length, reversed: Uint8Array.from(input.bytes).reverse() })),
    publish: t.procedure
      .input(NumberMessage.extend({ stream: z.string() }))
      .mutation(({ input, ctx }) => {
        const { stream, ...message } = input;
        return numbers.publish(stream, message, { ctx });
      }),
    numbers: t.procedure
      .input(z.object({ stream: z.string(), ...resumeInput }))
      .subscription(({ input, signal, ctx }) => numbers.stream(input.stream, { lastEventId: input.lastEventId, signal, ctx })),
    history: t.procedure.input(z.object({ stream: z.string() })).query(async ({ input, ctx }) => (await numbers.history(input.stream, { ctx })).messages),
    /** Answers once the test opens the gate `name` (or the call is cancelled). */
    slow: t.procedure.input(z.object({ name: z.string() })).mutation(async ({ input, signal }) => {
      await gates.wait(input.name, signal ?? new AbortController().signal);
      return `done ${input.name}`;
    }),
    node: t.procedure.query(() => ({ nodeId: herald.nodeId })),
  });
  return { herald, numbers, gates, router };
}

export type HardeningApp = ReturnType<typeof createHardeningApp>;
export type HardeningRouter = HardeningApp['router'];
export type HardeningServerOptions = Partial<Omit<HeraldServerOptions<HardeningRouter, TestUser>, 'router' | 'herald'>> & {
  /**
   * Serve the app attached to a plain Node server of the test's
   * (`attachHerald`), or with `'hono'` its HTTP door through the fetch
   * handler in a Hono app (`startHonoFetch`), instead of on `createHeraldServer`.
   */
  readonly attached?: boolean | 'hono';
};

export type HardeningServer = Served<HardeningApp>;

/** The hardening app on a free 127.0.0.1 port; `options` reach `createHeraldServer` as they are. */
export async function startHardeningServer(
  options: HardeningServerOptions = {},
  appOptions: HardeningAppOptions = {},
): Promise<HardeningServer> {
  const app = createHardeningApp(appOptions);
  const { attached, ...serverOptions } = options;
  const heraldOptions = {
    router: app.router,
    herald: app.herald,
    createContext: ({ user }: { user: TestUser | null }) => ({ user }),
    ...serverOptions,
  };
  const server =
    attached === 'hono'
      ? await startHonoFetch<HardeningRouter, TestUser>(heraldOptions)
      : attached
        ? await startAttached<HardeningRouter, TestUser>(heraldOptions, serverOptions.tls)
        : await createHeraldServer<HardeningRouter, TestUser>({ ...heraldOptions, port: 0, host: '127.0.0.1' });
  return served(app, server);
}

/** Publishes `{ n }` for n = 1..count on the hardening app's `numbers` channel, one every `intervalMs`: traffic that keeps flowing while a test changes something. */
export async function publishSteadily(server: HardeningServer, stream: string, count: number, intervalMs: number): Promise<void> {
  for (let n = 1; n <= count; n++) {
    await server.app.numbers.publish(stream, { n });
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The URL of a GET batch of `calls` calls of the hardening app's `history` of `stream` (`http`: the app's HTTP prefix, `…/trpc`). */
export function historyBatchUrl(http: string, stream: string, calls: number): string {
  const input = Object.fromEntries(Array.from({ length: calls }, (_, index) => [index, transformer.serialize({ stream })]));
  return `${http}/${Array<string>(calls).fill('history').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
}
