import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createHeraldClient } from '@herald/client';
import { openTelemetry } from '@herald/client/otel';
import { redisBroker } from '@herald/server/redis';
import {
  Cleanup,
  deletePrefix,
  FAST_BACKOFF,
  IN_CI,
  rawSocket,
  recordChannel,
  REDIS_URL,
  redisAvailable,
  startHardeningServer,
  stockClient,
  testPrefix,
  trpcErrorOf,
  type HardeningRouter,
} from '@herald/test-kit';
import { parentOf, recordTraces, type ReadableSpan } from '@herald/test-kit/otel';
import { carrierOf } from '../src/observability/tracing.js';

/** SpanKind's and SpanStatusCode's values (the API's enums). */
const SERVER = 1;
const ERROR = 2;
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/;

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function tracedClient(url: string) {
  const client = createHeraldClient<HardeningRouter>({ url, backoff: FAST_BACKOFF, tracing: openTelemetry() });
  cleanup.defer(() => client.close());
  return client;
}

const serverSpan = (name: string) => (span: ReadableSpan) => span.name === name && span.kind === SERVER && span.instrumentationScope.name === '@herald/server';

describe('OpenTelemetry spans of the server', () => {
  it("records a subscription's start and, linked to it, its end", async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const traces = cleanup.add(recordTraces());
    const client = tracedClient(server.url);
    const numbers = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 's' }, handlers));
    await numbers.waitForLive();
    const start = await traces.until(serverSpan('numbers'), 'the subscription start span');
    expect(start.attributes).toMatchObject({ 'rpc.system': 'trpc', 'rpc.method': 'numbers', 'herald.call.type': 'subscription' });
    // The child of the client's span, whose trace context the request carried.
    const clientStart = await traces.until((span) => span.name === 'numbers' && span.instrumentationScope.name === '@herald/client', "the client's span");
    expect(parentOf(start)).toBe(clientStart.spanContext().spanId);
    expect(traces.spans().some(serverSpan('numbers end'))).toBe(false);

    numbers.unsubscribe();
    const end = await traces.until(serverSpan('numbers end'), 'the subscription end span');
    expect(end.links.map((link) => link.context.spanId)).toEqual([start.spanContext().spanId]);
    expect(end.attributes).toMatchObject({ 'herald.subscription.end': 'stopped', 'herald.call.type': 'subscription' });
  });

  it("marks a failed call's span with the error, and serves the stock client (a root span) the same", async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const traces = cleanup.add(recordTraces());
    const stock = cleanup.add(stockClient<HardeningRouter>(server.url));
    await trpcErrorOf(stock.trpc.add.query({ a: 'one' as unknown as number, b: 2 }));
    const failed = await traces.until(serverSpan('add'), 'the failed call span');
    expect(failed.status.code).toBe(ERROR);
    expect(failed.attributes['error.type']).toBe('BAD_REQUEST');
    expect(parentOf(failed)).toBeUndefined();
    expect(await stock.trpc.add.query({ a: 1, b: 2 })).toBe(3);
  });

  it("ends the client's span of a failed call with the error, and refuses a tracing option that is not one", async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const traces = cleanup.add(recordTraces());
    const client = tracedClient(server.url);
    await trpcErrorOf(client.trpc.add.query({ a: 'one' as unknown as number, b: 2 }));
    const failed = await traces.until((span) => span.name === 'add' && span.instrumentationScope.name === '@herald/client', "the client's failed span");
    expect(failed.status.code).toBe(ERROR);
    expect(failed.attributes['error.type']).toBe('BAD_REQUEST');
    const serverSide = await traces.until(serverSpan('add'), "the server's failed span");
    expect(parentOf(serverSide)).toBe(failed.spanContext().spanId);
    expect(() => createHeraldClient<HardeningRouter>({ url: server.url, tracing: {} as never })).toThrow(/tracing must be what openTelemetry\(\) from '@herald\/client\/otel' returns/);
  });

  it('ignores trace context that is not an object of strings (the call starts a new trace)', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const traces = cleanup.add(recordTraces());
    const socket = rawSocket(server.url);
    cleanup.defer(() => socket.close());
    const input = { json: { a: 1, b: 2 } };
    socket.send({ id: 1, method: 'query', params: { path: 'add', input, trace: 'traceparent' } });
    socket.send({ id: 2, method: 'query', params: { path: 'add', input, trace: { traceparent: 7 } } });
    socket.send({ id: 3, method: 'query', params: { path: 'add', input, trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } } });
    for (const id of [1, 2, 3]) await socket.frame((frame) => (frame as { id?: unknown }).id === id, 5_000, `the answer to ${id}`);
    await traces.until(() => traces.spans().filter(serverSpan('add')).length === 3, 'three call spans');
    const parents = traces.spans().filter(serverSpan('add')).map((span) => parentOf(span));
    expect(parents.sort()).toEqual(['b7ad6b7169203331', undefined, undefined]);
    expect(carrierOf({ traceparent: 'x'.repeat(513) })).toBeNull();
    expect(carrierOf({})).toBeNull();
  });
});

const redisUp = await redisAvailable();
if (!redisUp && IN_CI) throw new Error(`tracing.test.ts needs Redis at ${REDIS_URL}`);
if (!redisUp) console.warn(`[tracing.test] Redis at ${REDIS_URL} does not answer: its Redis suite is reported as skipped`);

describe.runIf(redisUp)('trace context stored with channel messages (Redis)', () => {
  /** The fields of the topic's stored entries, oldest first. */
  async function storedFields(prefix: string, topic: string): Promise<string[][]> {
    const redis = new Redis(REDIS_URL);
    try {
      const entries = await redis.xrange(`${prefix}:s:{${topic}}`, '-', '+');
      return entries.map(([, fields]) => fields);
    } finally {
      redis.disconnect();
    }
  }

  it('stores none without an SDK, and the publish span\'s traceparent with one; the Redis round trips are spans', async () => {
    const prefix = testPrefix();
    cleanup.defer(() => deletePrefix(REDIS_URL, prefix));
    const { server } = cleanup.add(await startHardeningServer({}, { broker: redisBroker({ url: REDIS_URL, prefix }) }));
    const client = tracedClient(server.url);
    // No SDK registered: the client's tracing sends nothing, the server records and stores nothing.
    expect(openTelemetry().startCall('query', 'add')).toBeNull();
    await client.trpc.publish.mutate({ stream: 'r', n: 1 });
    expect(await storedFields(prefix, 'numbers:r')).toEqual([['d', expect.any(String)]]);

    const traces = cleanup.add(recordTraces());
    await client.trpc.publish.mutate({ stream: 'r', n: 2 });
    const publish = await traces.until((span) => span.name === 'publish numbers', 'the publish span');
    const [, second] = await storedFields(prefix, 'numbers:r');
    expect(second?.[2]).toBe('t');
    const stored = JSON.parse(second?.[3] ?? '{}') as { traceparent?: string };
    expect(stored.traceparent).toMatch(TRACEPARENT);
    expect(stored.traceparent).toContain(`-${publish.spanContext().spanId}-`);
    const roundTrip = await traces.until((span) => span.name === 'redis publish', 'the Redis publish span');
    expect(parentOf(roundTrip)).toBe(publish.spanContext().spanId);
  });
});
