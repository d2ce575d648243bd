import { afterEach, describe, expect, it } from 'vitest';
import type { TRPCClientError } from '@trpc/client';
import { initTRPC, type AnyRouter } from '@trpc/server';
import { z } from 'zod';
import { createHeraldClient, transformer, type HeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { Cleanup, FAST_BACKOFF, withTimeout } from '@herald/test-kit';
import { startHostileHttpServer, type HostileHttpCall } from './helpers/hostileHttpServer.js';
import { dataFrame, startedFrame, startHostileServer, type HostileRequest, type HostileServer } from './helpers/hostileServer.js';

/**
 * Issue 32, item 1: no frame from the server makes the client throw. A frame
 * the client cannot decode or revive fails the call it belongs to with
 * PARSE_ERROR (saying what was wrong); one that belongs to no call goes to
 * `onError` and is ignored. Later calls still work, and no uncaught exception
 * escapes (vitest fails the run on one).
 */

// Only the router's type is used: the hostile server answers by hand.
const t = initTRPC.create({ transformer });
const _router = t.router({
  good: t.procedure.input(z.string()).query(({ input }) => input),
  bad: t.procedure.input(z.string()).query(() => 'never'),
  badMutation: t.procedure.input(z.string()).mutation(() => 'never'),
  feed: t.procedure.input(z.string()).subscription(async function* () {
    yield 'never';
  }),
});
type Router = typeof _router;

/** Malformed answers for call `id`, by name. */
const MALFORMED: Record<string, (id: number) => string> = {
  'a result that is not an object': (id) => `{"id":${id},"result":"garbage"}`,
  'an error that is not an error shape': (id) => `{"id":${id},"error":"garbage"}`,
  'an error shape without a numeric code': (id) => JSON.stringify({ id, error: { json: { message: 'no code' } } }),
  'a bigint that cannot be revived': (id) => JSON.stringify({ id, result: { type: 'data', data: { json: 'x', meta: { values: ['bigint'] } } } }),
  'a superjson type the client does not know': (id) =>
    JSON.stringify({ id, result: { type: 'data', data: { json: 'x', meta: { values: [['custom', 'from-the-future']] } } } }),
  'an unknown superjson transformation': (id) => JSON.stringify({ id, result: { type: 'data', data: { json: { a: 1 }, meta: { values: { a: ['nope'] } } } } }),
  'data that is not a superjson value': (id) => JSON.stringify({ id, result: { type: 'data', data: 'garbage' } }),
  'a result type tRPC does not have': (id) => JSON.stringify({ id, result: { type: 'weird' } }),
  'an error whose shape cannot be revived': (id) =>
    JSON.stringify({ id, error: { json: { code: -32_600, message: 'x' }, meta: { values: [['custom', 'from-the-future']] } } }),
};

/** `good` echoes its input; `bad` and `badMutation` answer with the malformed frame their input names; `feed` starts, sends `ok`, then the malformed frame. */
function respond(request: HostileRequest): readonly string[] {
  const input = request.input?.json as string;
  if (request.path === 'good') return [dataFrame(request.id, input)];
  if (request.path === 'feed') return [startedFrame(request.id), dataFrame(request.id, 'ok'), MALFORMED[input]!(request.id)];
  return [MALFORMED[input]!(request.id)];
}

function parseErrorOf(error: unknown): { code: unknown; message: string } {
  const clientError = error as TRPCClientError<AnyRouter>;
  return { code: (clientError.data as { code?: unknown } | undefined)?.code, message: clientError.message };
}

describe('malformed frames from the server', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());
  let server: HostileServer;
  let client: HeraldClient<Router>;
  let reported: TRPCClientError<AnyRouter>[];

  async function connect(): Promise<void> {
    server = cleanup.add(await startHostileServer(respond));
    reported = [];
    client = cleanup.add(
      createHeraldClient<Router>({ url: server.url, backoff: FAST_BACKOFF, onError: (error) => reported.push(error) }),
    );
  }

  for (const name of Object.keys(MALFORMED)) {
    it(`fails the query with PARSE_ERROR on ${name}, and later calls still work`, async () => {
      await connect();
      const failure = await withTimeout(client.trpc.bad.query(name).then(() => null, (error: unknown) => error), 5_000, name);
      expect(failure).not.toBeNull();
      expect(parseErrorOf(failure).code).toBe('PARSE_ERROR');
      expect(parseErrorOf(failure).message).toMatch(/could not (decode|revive)/i);
      expect(await withTimeout(client.trpc.good.query('still here'), 5_000, 'good')).toBe('still here');
      expect(client.connection.current.status).toBe('open');
      expect(reported).toEqual([]);
    });
  }

  it('fails a mutation the same way', async () => {
    await connect();
    const failure = await client.trpc.badMutation.mutate('a result that is not an object').then(() => null, (error: unknown) => error);
    expect(parseErrorOf(failure).code).toBe('PARSE_ERROR');
    expect(await client.trpc.good.query('after')).toBe('after');
  });

  it('ends a subscription with PARSE_ERROR on an event it cannot revive, and stops it on the server', async () => {
    await connect();
    const received: unknown[] = [];
    const ended = new Promise<unknown>((resolve) => {
      client.trpc.feed.subscribe('a superjson type the client does not know', {
        onData: (data) => received.push(data),
        onError: resolve,
        onComplete: () => resolve(null),
      });
    });
    const error = await withTimeout(ended, 5_000, 'subscription end');
    expect(received).toEqual(['ok']);
    expect(parseErrorOf(error).code).toBe('PARSE_ERROR');
    await withTimeout(
      (async () => {
        while (server.stopped.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      5_000,
      'subscription.stop',
    );
    expect(await client.trpc.good.query('after')).toBe('after');
  });

  it('reports a malformed frame that belongs to no call through onError, and ignores it', async () => {
    await connect();
    expect(await client.trpc.good.query('first')).toBe('first');
    const frames = ['not json at all', '{"id":999,"result":"garbage"}', '{"id":"seven","result":{"type":"data","data":{"json":1}}}', '{"id":null,"error":"garbage"}', '[1,2'];
    for (const frame of frames) server.broadcast(frame);
    // A call answered after them proves they were all read (one socket keeps the order).
    expect(await client.trpc.good.query('second')).toBe('second');
    expect(reported.map((error) => (error.data as { code?: unknown } | undefined)?.code)).toEqual(frames.map(() => 'PARSE_ERROR'));
    expect(client.connection.current.status).toBe('open');
  });

  it('ignores a well-formed answer to a call it no longer has, without reporting it', async () => {
    await connect();
    server.broadcast(dataFrame(12_345, 'late'));
    expect(await client.trpc.good.query('x')).toBe('x');
    expect(reported).toEqual([]);
  });
});

/** Malformed HTTP answers (status 200), by name; tRPC's links decode them inside `HttpSession`. */
const MALFORMED_HTTP: Record<string, unknown> = {
  'a superjson type the client does not know': { result: { data: { json: 'x', meta: { values: [['custom', 'from-the-future']] } } } },
  'a bigint that cannot be revived': { result: { data: { json: 'x', meta: { values: ['bigint'] } } } },
  'an answer that is not a tRPC response': { result: 'garbage' },
};

describe('malformed answers over HTTP', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  async function connect(): Promise<HeraldClient<Router>> {
    const server = cleanup.add(
      await startHostileHttpServer({
        answer: ({ path, input }: HostileHttpCall) => (path === 'good' ? { result: { data: { json: input } } } : MALFORMED_HTTP[input as string]),
        stream: () => ['{"json":"ok"}', JSON.stringify({ json: 'x', meta: { values: [['custom', 'from-the-future']] } })],
      }),
    );
    return cleanup.add(
      createHeraldClient<Router>({ url: server.url, httpUrl: server.httpUrl, transport: 'http', http: httpTransport, backoff: FAST_BACKOFF }),
    );
  }

  for (const name of Object.keys(MALFORMED_HTTP)) {
    it(`fails the query and the mutation with PARSE_ERROR on ${name}; the session goes on`, async () => {
      const client = await connect();
      for (const call of [() => client.trpc.bad.query(name), () => client.trpc.badMutation.mutate(name)]) {
        const failure = await withTimeout(call().then(() => null, (error: unknown) => error), 5_000, name);
        expect(parseErrorOf(failure).code).toBe('PARSE_ERROR');
      }
      expect(await withTimeout(client.trpc.good.query('still here'), 5_000, 'good')).toBe('still here');
      expect(client.connection.current).toMatchObject({ status: 'open', transport: 'http' });
    });
  }

  it('ends an event stream with PARSE_ERROR on an event it cannot revive', async () => {
    const client = await connect();
    const received: unknown[] = [];
    const ended = new Promise<unknown>((resolve) => {
      client.trpc.feed.subscribe('any', { onData: (data) => received.push(data), onError: resolve, onComplete: () => resolve(null) });
    });
    expect(parseErrorOf(await withTimeout(ended, 5_000, 'stream end')).code).toBe('PARSE_ERROR');
    expect(received).toEqual(['ok']);
    expect(client.connection.current).toMatchObject({ status: 'open', transport: 'http' });
  });
});
