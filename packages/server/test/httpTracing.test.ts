import { afterEach, describe, expect, it } from 'vitest';
import { context, propagation, trace } from '@opentelemetry/api';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { createHeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { openTelemetry } from '@herald/client/otel';
import { transformer } from '@herald/server';
import { Cleanup, FAST_BACKOFF, recordChannel, startHardeningServer, type HardeningRouter } from '@herald/test-kit';
import { parentOf, recordTraces, type ReadableSpan } from '@herald/test-kit/otel';

/** SpanKind's values (the API's enum). */
const SERVER = 1;
const CLIENT = 2;

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const serverSpan = (name: string) => (span: ReadableSpan) => span.name === name && span.kind === SERVER && span.instrumentationScope.name === '@herald/server';
const clientSpan = (name: string) => (span: ReadableSpan) => span.name === name && span.kind === CLIENT && span.instrumentationScope.name === '@herald/client';
const traceOf = (span: ReadableSpan) => span.spanContext().traceId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

describe('OpenTelemetry spans of the HTTP door', () => {
  it("continues Herald's HTTP client's trace: a subscription's start, a mutation, its publish and the delivery are one trace", async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const traces = cleanup.add(recordTraces());
    const client = cleanup.add(createHeraldClient<HardeningRouter>({ url: server.url, transport: 'http', http: httpTransport, backoff: FAST_BACKOFF, tracing: openTelemetry() }));

    const numbers = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'h' }, handlers));
    await numbers.waitForLive();
    const start = await traces.until(serverSpan('numbers'), "the event stream's start span");
    const clientStart = await traces.until(clientSpan('numbers'), "the client's subscription span");
    expect(start.attributes).toMatchObject({ 'rpc.system': 'trpc', 'rpc.method': 'numbers', 'herald.call.type': 'subscription' });
    expect(parentOf(start)).toBe(idOf(clientStart));
    expect(traceOf(start)).toBe(traceOf(clientStart));

    // Herald's client sends its mutations with an Idempotency-Key: served by the runner's `once`, a span all the same.
    await client.trpc.publish.mutate({ stream: 'h', n: 1 });
    const call = await traces.until(serverSpan('publish'), "the mutation's server span");
    const clientCall = await traces.until(clientSpan('publish'), "the client's mutation span");
    expect(call.attributes).toMatchObject({ 'rpc.method': 'publish', 'herald.call.type': 'mutation', 'herald.call.replayed': false });
    expect(parentOf(call)).toBe(idOf(clientCall));
    const publish = await traces.until((span) => span.name === 'publish numbers', 'the publish span');
    expect(parentOf(publish)).toBe(idOf(call));
    const delivery = await traces.until((span) => span.name === 'process numbers', 'the delivery span');
    expect(parentOf(delivery)).toBe(idOf(publish));
    for (const span of [call, publish, delivery]) expect(traceOf(span)).toBe(traceOf(clientCall));

    // A query with trace context goes in its own request, under its own client span.
    expect(await client.trpc.add.query({ a: 1, b: 2 })).toBe(3);
    const query = await traces.until(serverSpan('add'), "the query's server span");
    expect(parentOf(query)).toBe(idOf(await traces.until(clientSpan('add'), "the client's query span")));

    numbers.unsubscribe();
    const end = await traces.until(serverSpan('numbers end'), "the event stream's end span");
    expect(end.links.map((link) => link.context.spanId)).toEqual([idOf(start)]);
    expect(end.attributes['herald.subscription.end']).toBe('stopped');
  });

  it.each([
    ['Node', undefined],
    ['fetch (Hono)', 'hono' as const],
  ])("gives each call of the stock httpBatchLink's batch its own span, children of the request's traceparent (%s door)", async (_door, attached) => {
    const { server } = cleanup.add(await startHardeningServer(attached ? { attached } : {}));
    const traces = cleanup.add(recordTraces());
    const parent = trace.getTracer('test').startSpan('batch');
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), parent), headers);
    const stock = createTRPCClient<HardeningRouter>({ links: [httpBatchLink({ url: `${server.httpUrl}/trpc`, transformer, headers })] });
    const sums = await Promise.all([stock.add.query({ a: 1, b: 2 }), stock.add.query({ a: 3, b: 4 }), stock.history.query({ stream: 'none' })]);
    parent.end();
    expect(sums.slice(0, 2)).toEqual([3, 7]);

    await traces.until(() => traces.spans().filter(serverSpan('add')).length === 2, 'two call spans');
    const calls = [...traces.spans().filter(serverSpan('add')), await traces.until(serverSpan('history'), 'the third call span')];
    for (const span of calls) {
      expect(parentOf(span)).toBe(parent.spanContext().spanId);
      expect(traceOf(span)).toBe(parent.spanContext().traceId);
    }
    // A mutation without an Idempotency-Key runs through tRPC's adapter: its publish is its child.
    await stock.publish.mutate({ stream: 'b', n: 1 });
    const mutation = await traces.until(serverSpan('publish'), "the mutation's server span");
    expect(parentOf(mutation)).toBe(parent.spanContext().spanId);
    expect(mutation.attributes['herald.call.replayed']).toBeUndefined();
    expect(parentOf(await traces.until((span) => span.name === 'publish numbers', 'the publish span'))).toBe(idOf(mutation));
    // Without trace context, a call starts a new trace.
    const plain = createTRPCClient<HardeningRouter>({ links: [httpBatchLink({ url: `${server.httpUrl}/trpc`, transformer })] });
    expect(await plain.add.query({ a: 5, b: 5 })).toBe(10);
    await traces.until(() => traces.spans().filter(serverSpan('add')).length === 3, 'the third add span');
    expect(traces.spans().filter(serverSpan('add')).filter((span) => parentOf(span) === undefined)).toHaveLength(1);
  });

  it('starts a new trace for a traceparent header that is malformed or over 512 characters', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const traces = cleanup.add(recordTraces());
    const valid = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const url = `${server.httpUrl}/trpc/add?input=${encodeURIComponent(JSON.stringify(transformer.serialize({ a: 1, b: 2 })))}`;
    // A later version's traceparent may carry more fields: one the propagator would take, but over the bound.
    const long = `cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-${'0'.repeat(460)}`;
    expect(long.length).toBeGreaterThan(512);
    for (const traceparent of ['not-a-traceparent', long, valid]) {
      expect((await fetch(url, { headers: { traceparent } })).status).toBe(200);
    }
    await traces.until(() => traces.spans().filter(serverSpan('add')).length === 3, 'three call spans');
    expect(traces.spans().filter(serverSpan('add')).map((span) => parentOf(span))).toEqual([undefined, undefined, 'b7ad6b7169203331']);
  });

  it('allows the trace context headers in a CORS preflight', async () => {
    const { server } = cleanup.add(await startHardeningServer({ allowedOrigins: ['http://app.example'] }));
    const response = await fetch(`${server.httpUrl}/trpc/add`, {
      method: 'OPTIONS',
      headers: { origin: 'http://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'traceparent, tracestate' },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-headers')).toMatch(/traceparent, tracestate/);
  });
});
