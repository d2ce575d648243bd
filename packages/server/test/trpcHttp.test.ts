import { afterEach, describe, expect, it } from 'vitest';
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createHeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import {
  createHerald,
  createHeraldServer,
  heraldErrorFormatter,
  resumeInput,
  transformer,
  type HeraldServer,
  type HeraldServerOptions,
} from '@herald/server';
import {
  Cleanup,
  FAST_BACKOFF,
  nextEvent,
  nextState,
  pollUntil,
  recordChannel,
  recordSubscription,
  withTimeout,
  type SubscriptionHandlers,
} from '@herald/test-kit';

/**
 * The router over HTTP at `/trpc` (http/trpcHttp.ts): tRPC's HTTP protocol
 * through its node-http adapter, with the WebSocket side's context, limits,
 * resume, gap notices, shutdown and origin checks.
 */
interface Ctx {
  readonly params: Readonly<Record<string, string>> | null;
  readonly user: string | null;
}

function createApp(historySize = 5) {
  const herald = createHerald();
  const numbers = herald.channel('numbers', {
    key: z.string().min(1).max(32),
    message: z.object({ n: z.number().int() }),
    history: { size: historySize, ttlMs: 60_000 },
  });
  const t = initTRPC.context<Ctx>().create({ transformer, errorFormatter: heraldErrorFormatter });
  let releaseSlow: () => void = () => undefined;
  const slowGate = new Promise<void>((resolve) => {
    releaseSlow = resolve;
  });
  let slowEntered: () => void = () => undefined;
  /** Resolves once a `slow` query runs on the server. */
  const slowStarted = new Promise<void>((resolve) => {
    slowEntered = resolve;
  });
  const router = t.router({
    whoami: t.procedure.query(({ ctx }) => ({ params: ctx.params, user: ctx.user })),
    whoamiStream: t.procedure.subscription(async function* ({ ctx }) {
      yield { params: ctx.params, user: ctx.user };
    }),
    publish: t.procedure.input(z.object({ stream: z.string(), n: z.number() })).mutation(({ input }) => numbers.publish(input.stream, { n: input.n })),
    numbers: t.procedure
      .input(z.object({ stream: z.string(), ...resumeInput }))
      .subscription(({ input, signal }) => numbers.stream(input.stream, { lastEventId: input.lastEventId, signal })),
    echo: t.procedure.input(z.object({ text: z.string() })).mutation(({ input }) => input.text),
    slow: t.procedure.query(async () => {
      slowEntered();
      await slowGate;
      return 'done';
    }),
  });
  return { herald, numbers, router, slowStarted, releaseSlow: () => releaseSlow() };
}

type App = ReturnType<typeof createApp>;
type AppRouter = App['router'];

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function start(
  options: Partial<HeraldServerOptions<AppRouter, string>> & { historySize?: number } = {},
): Promise<{ app: App; server: HeraldServer; base: string }> {
  const app = createApp(options.historySize);
  const server = await createHeraldServer<AppRouter, string>({
    port: 0,
    host: '127.0.0.1',
    herald: app.herald,
    createContext: ({ connectionParams, user }) => ({ params: connectionParams, user }),
    ...options,
    router: app.router,
  });
  cleanup.defer(async () => {
    app.releaseSlow();
    await server.close();
    await app.herald.close();
  });
  return { app, server, base: `${server.httpUrl}/trpc` };
}

function httpClient(url: string, options: Partial<Parameters<typeof createHeraldClient>[0]> = {}) {
  return cleanup.add(createHeraldClient<AppRouter>({ url, transport: 'http', http: httpTransport, backoff: FAST_BACKOFF, ...options }));
}

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });
const input = (value: unknown) => encodeURIComponent(JSON.stringify(transformer.serialize(value)));

interface SseEvent {
  readonly event: string;
  readonly id: string | null;
  readonly data: string;
}

/**
 * Reads a Server-Sent Events response until `until` holds (or `timeoutMs`),
 * then drops the connection. Parses `event:`, `id:` and `data:` lines.
 */
async function readEvents(
  url: string,
  headers: Record<string, string>,
  until: (events: SseEvent[]) => boolean,
  timeoutMs = 5_000,
): Promise<SseEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const events: SseEvent[] = [];
  try {
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    while (!until(events)) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = { event: 'message', id: null as string | null, data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) fields.event = line.slice(7);
          else if (line.startsWith('id: ')) fields.id = line.slice(4);
          else if (line.startsWith('data: ')) fields.data = line.slice(6);
        }
        if (block.trim() !== '') events.push(fields);
      }
    }
    return events;
  } catch (error) {
    if (controller.signal.aborted) throw new Error(`no matching events within ${timeoutMs} ms (got ${JSON.stringify(events)})`);
    throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** The channel events (`message`, `live`, `gap`) of an SSE stream, with their ids. */
function channelEvents(events: SseEvent[]): { id: string | null; type: string; n?: number; reason?: string }[] {
  return events
    .filter((e) => e.event === 'message')
    .map((e) => {
      const data = transformer.deserialize(JSON.parse(e.data) as never) as { type: string; message?: { n: number }; reason?: string };
      return { id: e.id, type: data.type, ...(data.message ? { n: data.message.n } : {}), ...(data.reason ? { reason: data.reason } : {}) };
    });
}

describe('context over HTTP', () => {
  it('gives createContext { token } from Authorization, and every connectionParams of Herald\'s client, on calls and event streams', async () => {
    const { server, base } = await start();
    const plain = await get(`${base}/whoami`);
    expect(await plain.json()).toMatchObject({ result: { data: { json: { params: null } } } });
    const bearer = await get(`${base}/whoami,whoami?batch=1&input=${encodeURIComponent('{}')}`, { authorization: 'Bearer abc.def' });
    const batch = (await bearer.json()) as { result: { data: never } }[];
    expect(batch.map((item) => (transformer.deserialize(item.result.data) as Ctx).params)).toEqual([{ token: 'abc.def' }, { token: 'abc.def' }]);

    const client = httpClient(server.url, { connectionParams: { token: 't-1', name: 'ann' } });
    expect((await client.trpc.whoami.query()).params).toEqual({ token: 't-1', name: 'ann' });
    const stream = recordSubscription<Ctx>(
      (handlers) => client.trpc.whoamiStream.subscribe(undefined, handlers as SubscriptionHandlers<Ctx>),
      { tracked: false },
    );
    cleanup.defer(() => stream.unsubscribe());
    await stream.until((events) => events.length === 1, 5_000, 'the stream context');
    expect(stream.events[0]?.event.params).toEqual({ token: 't-1', name: 'ann' });
  });

  it('runs authenticate first, as over WebSocket: its user reaches createContext, and a refusal is UNAUTHORIZED', async () => {
    const { server, base } = await start({
      authenticate: (params) => {
        if (!params?.['token']) return null;
        if (params['token'] !== 'good') throw new TRPCError({ code: 'UNAUTHORIZED', message: 'bad token' });
        return 'user-1';
      },
    });
    const good = httpClient(server.url, { connectionParams: { token: 'good' } });
    expect(await good.trpc.whoami.query()).toEqual({ params: { token: 'good' }, user: 'user-1' });
    const refused = await get(`${base}/whoami`, { authorization: 'Bearer forged' });
    expect(refused.status).toBe(401);
    const shape = transformer.deserialize(((await refused.json()) as { error: never }).error) as { message: string; data: { heraldCode: string } };
    expect(shape.data.heraldCode).toBe('UNAUTHORIZED');
    expect(shape.message).toBe('bad token');
    expect((await httpClient(server.url).trpc.whoami.query()).user).toBeNull();
  });

  it('refuses requests from origins not in allowedOrigins', async () => {
    const { base } = await start({ allowedOrigins: ['https://chat.example.com'] });
    expect((await get(`${base}/whoami`, { origin: 'https://evil.example.com' })).status).toBe(403);
    expect((await get(`${base}/whoami`, { origin: 'https://chat.example.com' })).status).toBe(200);
    expect((await get(`${base}/whoami`)).status).toBe(200); // no Origin: not a browser
  });
});

describe('channel streams over SSE', () => {
  it('resume from Last-Event-ID, and tell a gap when history no longer covers it', async () => {
    const { app, base } = await start({ historySize: 5 });
    const url = `${base}/numbers?input=${input({ stream: 's' })}`;
    for (const n of [1, 2]) await app.numbers.publish('s', { n });
    const first = channelEvents(await readEvents(url, {}, (events) => channelEvents(events).some((e) => e.type === 'live')));
    expect(first.map((e) => e.type)).toEqual(['live']);
    const position = first[0]?.id as string;

    for (const n of [3, 4]) await app.numbers.publish('s', { n });
    const resumed = channelEvents(await readEvents(url, { 'last-event-id': position }, (events) => channelEvents(events).some((e) => e.type === 'live')));
    expect(resumed.map((e) => e.n ?? e.type)).toEqual([3, 4, 'live']);

    for (let n = 5; n <= 14; n++) await app.numbers.publish('s', { n });
    const gapped = channelEvents(await readEvents(url, { 'last-event-id': position }, (events) => channelEvents(events).some((e) => e.type === 'live')));
    expect(gapped.map((e) => e.reason ?? e.n ?? e.type)).toEqual(['trimmed', 'live']);
  });

  it('pings idle streams at the heartbeat interval and tells the client its inactivity bound', async () => {
    const { base } = await start({ heartbeat: { pingIntervalMs: 100, pongTimeoutMs: 200 } });
    const events = await readEvents(`${base}/numbers?input=${input({ stream: 'idle' })}`, {}, (seen) => seen.some((e) => e.event === 'ping'));
    const connected = events.find((e) => e.event === 'connected');
    expect(JSON.parse(connected?.data ?? '{}')).toEqual({ reconnectAfterInactivityMs: 300 });
    expect(events.some((e) => e.event === 'ping')).toBe(true);
  });
});

describe('limits over HTTP', () => {
  it('bounds batch size and body size, and holds event streams to the user connection cap whatever their params say', async () => {
    const { server, base } = await start({
      authenticate: (params) => params?.['token'] ?? null,
      limits: { maxBatchSize: 2, maxPayloadBytes: 512, maxConnectionsPerUser: 2 },
    });
    const batch = await get(`${base}/whoami,whoami,whoami?batch=1&input=${encodeURIComponent('{}')}`);
    expect(batch.status).toBe(429);
    const tooBig = await fetch(`${base}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(transformer.serialize({ text: 'x'.repeat(2_000) })),
    });
    expect(tooBig.status).toBe(413);

    // Two clients of one user: a junk key in the params does not make a second user.
    const client = httpClient(server.url, { connectionParams: { token: 'one-client' } });
    const other = httpClient(server.url, { connectionParams: { token: 'one-client', junk: 'x' } });
    const subscribe = (stream: string, by = client) => recordChannel<{ n: number }>((handlers) => by.trpc.numbers.subscribe({ stream }, handlers));
    const a = subscribe('a');
    const b = subscribe('b', other);
    await Promise.all([a.waitForLive(), b.waitForLive()]);
    const c = subscribe('c');
    await expect(nextEvent(c, () => true, 5_000, 'the third stream refused')).rejects.toThrow(/subscription failed/);
    expect((c.errors[0] as { data?: { heraldCode?: string } }).data?.heraldCode).toBe('LIMIT_EXCEEDED');
    c.unsubscribe();
    // A stream that ends gives its slot back once the server saw its connection
    // close, which nothing tells the client: try again until a new stream is served.
    a.unsubscribe();
    await pollUntil(async () => {
      const d = subscribe('d');
      try {
        await d.waitForLive();
        return true;
      } catch {
        d.unsubscribe();
        return false;
      }
    }, 'a new stream after one ended');
    b.unsubscribe();
  });

  it('counts an event stream against the address connection cap whatever its Accept header says', async () => {
    const { base } = await start({ limits: { maxConnectionsPerIp: 2 } });
    const url = `${base}/numbers?input=${input({ stream: 'x' })}`;
    const held = await Promise.all(
      [0, 1].map(async () => {
        const controller = new AbortController();
        const response = await fetch(url, { headers: { accept: '*/*' }, signal: controller.signal });
        expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
        return controller;
      }),
    );
    try {
      const third = await readEvents(url, { accept: '*/*' }, (events) => events.some((e) => e.event === 'serialized-error'));
      const error = third.find((e) => e.event === 'serialized-error');
      expect((transformer.deserialize(JSON.parse(error?.data ?? 'null') as never) as { data: { heraldCode: string } }).data.heraldCode).toBe('LIMIT_EXCEEDED');
    } finally {
      for (const controller of held) controller.abort();
    }
  });
});

describe('the HTTP endpoint itself', () => {
  it('answers SERVER_CLOSING (and HEAD 503) while the server drains', async () => {
    const { app, server, base } = await start();
    expect((await fetch(base, { method: 'HEAD' })).status).toBe(204);
    // A query in flight over WebSocket keeps the server draining until it is answered.
    const socketClient = cleanup.add(createHeraldClient<AppRouter>({ url: server.url, backoff: FAST_BACKOFF }));
    const slow = socketClient.trpc.slow.query();
    await withTimeout(app.slowStarted, 5_000, 'the query to run');
    const closing = server.close();
    await pollUntil(() => server.draining, 'draining');
    expect((await fetch(base, { method: 'HEAD' })).status).toBe(503);
    const refused = await get(`${base}/whoami`);
    expect(refused.status).toBe(503);
    const shape = transformer.deserialize(((await refused.json()) as { error: never }).error) as { data: { heraldCode: string } };
    expect(shape.data.heraldCode).toBe('SERVER_CLOSING');
    app.releaseSlow();
    expect(await slow).toBe('done');
    await closing;
  });

  it("moves a client's calls to the next server instead of failing them while the server drains", async () => {
    const first = await start();
    const port = first.server.port;
    const socketClient = cleanup.add(createHeraldClient<AppRouter>({ url: first.server.url, backoff: FAST_BACKOFF }));
    const slow = socketClient.trpc.slow.query();
    await withTimeout(first.app.slowStarted, 5_000, 'the query to run');
    const client = httpClient(first.server.url);
    expect((await client.trpc.whoami.query()).params).toBeNull();

    const closing = first.server.close();
    await pollUntil(() => first.server.draining, 'draining');
    const reconnecting = nextState(client, 'reconnecting');
    const answered = client.trpc.whoami.query();
    await reconnecting;
    first.app.releaseSlow();
    await slow;
    await closing;
    await start({ port });
    expect((await answered).params).toBeNull();
  });

  it('moves to another path, or is turned off', async () => {
    const moved = await start({ httpPath: '/api/trpc' });
    expect((await get(`${moved.server.httpUrl}/trpc/whoami`)).status).toBe(404);
    const client = httpClient(moved.server.url, { httpUrl: `${moved.server.httpUrl}/api/trpc` });
    expect((await client.trpc.whoami.query()).params).toBeNull();

    const off = await start({ httpPath: false });
    expect((await get(`${off.server.httpUrl}/trpc/whoami`)).status).toBe(404);
  });
});
