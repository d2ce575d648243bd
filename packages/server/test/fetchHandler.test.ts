import { afterEach, describe, expect, it } from 'vitest';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { z } from 'zod';
import { createHeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { createHerald, createHeraldHandler, heraldErrorFormatter, resumeInput, transformer, type HeraldRequest } from '@herald/server';
import { IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import { Cleanup, FAST_BACKOFF, recordChannel, startHonoFetch } from '@herald/test-kit';

/**
 * The HTTP door as a fetch-API handler (http/fetchHandler.ts,
 * fetchExchange.ts): behind a real server (a Hono app on
 * `@hono/node-server`, `startHonoFetch`) with the stock tRPC client,
 * Herald's HTTP fallback and an event stream; called directly with a
 * `Request`, as a Next.js route handler is, for the client's address. The
 * gate's refusals through it are rows of test/gate.test.ts (the fetch door).
 */
interface Ctx {
  /** Which kind of request `createContext` got: a fetch `Request` on this door. */
  readonly request: 'fetch' | 'node';
  readonly user: string | null;
}

const kindOf = (req: HeraldRequest): Ctx['request'] => (req instanceof Request ? 'fetch' : 'node');

function createApp() {
  const herald = createHerald();
  const numbers = herald.channel('numbers', { key: z.string().min(1), message: z.object({ n: z.number().int() }), history: { size: 10, ttlMs: 60_000 } });
  const t = initTRPC.context<Ctx>().create({ transformer, errorFormatter: heraldErrorFormatter });
  let runs = 0;
  const router = t.router({
    whoami: t.procedure.query(({ ctx }) => ctx),
    add: t.procedure.input(z.object({ a: z.number(), b: z.number() })).query(({ input }) => input.a + input.b),
    publish: t.procedure.input(z.object({ stream: z.string(), n: z.number().int() })).mutation(async ({ input }) => {
      runs++;
      return numbers.publish(input.stream, { n: input.n });
    }),
    numbers: t.procedure
      .input(z.object({ stream: z.string(), ...resumeInput }))
      .subscription(({ input, signal }) => numbers.stream(input.stream, { lastEventId: input.lastEventId, signal })),
  });
  return { herald, numbers, router, runs: () => runs };
}
type AppRouter = ReturnType<typeof createApp>['router'];

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function serve() {
  const app = createApp();
  const server = await startHonoFetch<AppRouter, string>({
    router: app.router,
    herald: app.herald,
    authenticate: (params, req) => {
      expect(kindOf(req)).toBe('fetch');
      return params?.['user'] ?? null;
    },
    createContext: ({ req, user }) => ({ request: kindOf(req), user }),
  });
  cleanup.defer(async () => {
    await server.close();
    await app.herald.close();
  });
  return { app, server, trpcUrl: `${server.httpUrl}/trpc` };
}

describe('the fetch handler behind a Hono app', () => {
  it('serves the stock httpBatchLink: a batch of queries and a mutation, with createContext given the fetch Request', async () => {
    const { trpcUrl } = await serve();
    const stock = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: trpcUrl, transformer, headers: { authorization: 'Bearer x' } })] });
    const [sum, me] = await Promise.all([stock.add.query({ a: 2, b: 3 }), stock.whoami.query()]);
    expect(sum).toBe(5);
    expect(me).toEqual({ request: 'fetch', user: null });
    expect(await stock.publish.mutate({ stream: 's', n: 1 })).toMatch(/^\d+-\d+$/);
    await expect(stock.add.query({ a: 'x' } as never)).rejects.toMatchObject({ data: { httpStatus: 400 } });
  });

  it("serves Herald's HTTP fallback: calls with its connection params, and a channel over an event stream", async () => {
    const { app, server } = await serve();
    const client = cleanup.add(
      createHeraldClient<AppRouter>({ url: server.url, transport: 'http', http: httpTransport, backoff: FAST_BACKOFF, connectionParams: { user: 'ann' } }),
    );
    expect(await client.trpc.whoami.query()).toEqual({ request: 'fetch', user: 'ann' });
    const recorded = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'live' }, handlers));
    cleanup.defer(() => recorded.unsubscribe());
    await recorded.waitForLive();
    await client.trpc.publish.mutate({ stream: 'live', n: 1 });
    await app.numbers.publish('live', { n: 2 });
    expect(await recorded.waitForMessages(2, 5_000)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('runs a mutation with an Idempotency-Key once, and answers its repeat with the first outcome', async () => {
    const { app, trpcUrl } = await serve();
    const post = () =>
      fetch(`${trpcUrl}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [IDEMPOTENCY_KEY_HEADER]: 'key-1', authorization: 'Bearer x' },
        body: JSON.stringify(transformer.serialize({ stream: 'once', n: 7 })),
      });
    const first = await post();
    const again = await post();
    expect([first.status, again.status]).toEqual([200, 200]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect(app.runs()).toBe(1);
  });

  it('ends its open event streams on close(), and answers calls after it with SERVER_CLOSING', async () => {
    const { server, trpcUrl } = await serve();
    const input = encodeURIComponent(JSON.stringify(transformer.serialize({ stream: 'end' })));
    const stream = await fetch(`${trpcUrl}/numbers?input=${input}`, { headers: { accept: 'text/event-stream' } });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = stream.body!.getReader();
    await reader.read();
    const ended = (async () => {
      try {
        while (!(await reader.read()).done);
      } catch {
        // Ended by the server: the connection was cut.
      }
    })();
    await server.handler.close();
    await ended;
    const after = await fetch(`${trpcUrl}/whoami`);
    expect(after.status).toBe(503);
    expect(await after.json()).toMatchObject({ error: { json: { data: { heraldCode: 'SERVER_CLOSING' } } } });
  });
});

describe("the fetch handler's client address", () => {
  async function handlerWith(options: Omit<Parameters<typeof createHeraldHandler<AppRouter, string>>[0], 'createContext'>) {
    const app = createApp();
    const handler = await createHeraldHandler<AppRouter, string>({ herald: app.herald, createContext: ({ req, user }) => ({ request: kindOf(req), user }), ...options });
    cleanup.defer(async () => {
      await handler.close();
      await app.herald.close();
    });
    return handler;
  }
  const whoami = (headers: Record<string, string> = {}) => new Request('http://app.example/trpc/whoami', { headers });
  const rate = { perSecond: 0.001, burst: 1 };

  it('refuses a request whose address it cannot tell, saying how to give it, and answers 404 outside httpPath', async () => {
    const handler = await handlerWith({ router: createApp().router });
    const serve = handler.fetchHandler();
    const unknown = await serve(whoami());
    expect(unknown.status).toBe(500);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(/getClientAddress/);
    const elsewhere = await serve(new Request('http://app.example/api/other'), '10.0.0.1');
    expect(elsewhere.status).toBe(404);
    expect(((await elsewhere.json()) as { error: { message: string } }).error.message).toMatch(/under \/trpc/);
    expect((await serve(whoami(), '10.0.0.1')).status).toBe(200);
  });

  it('counts anonymous callers by getClientAddress, and by X-Forwarded-For first with trustProxy', async () => {
    const byCallback = (await handlerWith({ router: createApp().router, limits: { rate } })).fetchHandler({
      getClientAddress: (request) => request.headers.get('x-test-client') ?? undefined,
    });
    expect((await byCallback(whoami({ 'x-test-client': 'a' }))).status).toBe(200);
    expect((await byCallback(whoami({ 'x-test-client': 'a' }))).status).toBe(429);
    expect((await byCallback(whoami({ 'x-test-client': 'b' }))).status).toBe(200);

    const proxied = (await handlerWith({ router: createApp().router, limits: { rate }, trustProxy: true })).fetchHandler({ getClientAddress: () => 'proxy' });
    expect((await proxied(whoami({ 'x-forwarded-for': 'c, proxy' }))).status).toBe(200);
    expect((await proxied(whoami({ 'x-forwarded-for': 'd' }))).status).toBe(200);
    expect((await proxied(whoami({ 'x-forwarded-for': 'c' }))).status).toBe(429);
  });
});
