import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createHeraldClient } from '@herald/client';
import {
  answerTo,
  Cleanup,
  FAST_BACKOFF,
  metricValue,
  pollUntil,
  rawSocket,
  recordChannel,
  request,
  scrape,
  startHardeningServer,
  trpcErrorOf,
  type HardeningRouter,
} from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('GET /metrics', () => {
  it('counts connections, subscriptions, frames, bytes, errors and delivery latency, in Prometheus format', async () => {
    const { server, app } = cleanup.add(await startHardeningServer());
    const client = createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF });
    cleanup.add(client);
    const subscription = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'm' }, handlers));
    cleanup.defer(() => subscription.unsubscribe());
    await subscription.waitForLive();
    for (let n = 1; n <= 5; n++) await app.numbers.publish('m', { n });
    await subscription.waitForMessages(5);
    await trpcErrorOf(client.trpc.add.query({ a: 'one' as unknown as number, b: 2 }));

    const response = await fetch(`${server.httpUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toMatch(/^# HELP herald_connections /m);
    expect(text).toMatch(/^# TYPE herald_delivery_latency_seconds histogram$/m);
    expect(metricValue(text, 'herald_connections')).toBe(1);
    expect(metricValue(text, 'herald_subscriptions')).toBe(1);
    expect(metricValue(text, 'herald_connections_opened_total')).toBe(1);
    expect(metricValue(text, 'herald_messages_received_total')).toBeGreaterThanOrEqual(2);
    expect(metricValue(text, 'herald_messages_sent_total')).toBeGreaterThanOrEqual(8);
    expect(metricValue(text, 'herald_received_bytes_total')).toBeGreaterThan(50);
    expect(metricValue(text, 'herald_sent_bytes_total')).toBeGreaterThan(200);
    expect(metricValue(text, 'herald_errors_total', { code: 'BAD_REQUEST' })).toBe(1);
    // Every refusal reason is listed, at zero until it happens.
    expect(metricValue(text, 'herald_refusals_total', { reason: 'rate' })).toBe(0);
    expect(text).toMatch(/^herald_refusals_total\{reason="origin"\} 0$/m);
    // One latency sample per live message, whatever the number of subscribers.
    expect(metricValue(text, 'herald_delivery_latency_seconds_count')).toBe(5);
    expect(metricValue(text, 'herald_delivery_latency_seconds_bucket', { le: '+Inf' })).toBe(5);

    subscription.unsubscribe();
    await client.close();
    await pollUntil(async () => metricValue(await scrape(server), 'herald_connections'), 'the close to count', { accept: (open) => open === 0 });
    const after = await scrape(server);
    expect(metricValue(after, 'herald_subscriptions')).toBe(0);
    expect(metricValue(after, 'herald_connections_closed_total')).toBe(1);
  });

  it('keeps a registry per server, so servers in one process do not clash', async () => {
    const one = cleanup.add(await startHardeningServer());
    const two = cleanup.add(await startHardeningServer());
    const socket = rawSocket(one.server.url);
    cleanup.defer(() => socket.close());
    await socket.opened;
    await pollUntil(async () => metricValue(await scrape(one.server), 'herald_connections'), 'the connection to count', { accept: (open) => open === 1 });
    expect(metricValue(await scrape(two.server), 'herald_connections')).toBe(0);
    expect(one.server.metrics).not.toBe(two.server.metrics);
  });

  it('registers on a registry it is given, under a prefix, and can stay off HTTP or be off', async () => {
    const registry = new Registry();
    const { server } = cleanup.add(await startHardeningServer({ metrics: { registry, prefix: 'chat_', path: false } }));
    expect(server.metrics).toBe(registry);
    expect((await fetch(`${server.httpUrl}/metrics`)).status).toBe(404);
    expect(await registry.metrics()).toMatch(/^chat_connections 0$/m);

    const off = cleanup.add(await startHardeningServer({ metrics: false }));
    expect(off.server.metrics).toBeNull();
    expect((await fetch(`${off.server.httpUrl}/metrics`)).status).toBe(404);
  });
});

describe('logs', () => {
  it('writes one structured line per connection opened and closed, with the reason', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const { server } = cleanup.add(await startHardeningServer({ logger }));
    expect(server.logger).toBe(logger);

    const socket = rawSocket(server.url);
    await socket.opened;
    socket.send(request(1, 'query', 'add', { a: 1, b: 1 }));
    await socket.frame(answerTo(1));
    socket.socket.close(1000, 'bye');
    await socket.closed;
    await pollUntil(() => lines.filter((line) => line['event'] === 'connection.close').length, 'the close to be logged', { accept: (count) => count === 1 });

    const second = rawSocket(server.url);
    await second.opened;
    await server.close();
    await second.closed;

    const events = lines.filter((line) => String(line['event']).startsWith('connection.'));
    expect(events).toEqual([
      expect.objectContaining({ level: 30, event: 'connection.open', connectionId: 'c1', ip: '127.0.0.1', msg: 'connection opened' }),
      expect.objectContaining({ event: 'connection.close', connectionId: 'c1', code: 1000, reason: 'bye', closedBy: 'client', durationMs: expect.any(Number) }),
      expect.objectContaining({ event: 'connection.open', connectionId: 'c2' }),
      expect.objectContaining({ event: 'connection.close', connectionId: 'c2', code: 1001, reason: 'server closing', closedBy: 'server' }),
    ]);
    expect(lines.map((line) => line['event'])).toEqual(expect.arrayContaining(['server.listening', 'server.draining', 'server.closed']));
  });

  it('is silent by default under tests', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    expect(server.logger.level).toBe('silent');
  });
});

describe('health', () => {
  it('keeps /healthz and /readyz', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    expect(await (await fetch(`${server.httpUrl}/healthz`)).json()).toMatchObject({ status: 'ok', connections: 0 });
    expect(await (await fetch(`${server.httpUrl}/readyz`)).json()).toMatchObject({ status: 'ready', broker: 'memory' });
  });
});
