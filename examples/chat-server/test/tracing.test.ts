import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { openTelemetry } from '@herald/client/otel';
import { redisBroker } from '@herald/server/redis';
import type { AppRouter, Message } from '@herald/example-chat-server';
import { Cleanup, deletePrefix, IN_CI, recordChannel, REDIS_URL, redisAvailable, testPrefix } from '@herald/test-kit';
import { parentOf, recordTraces, type ReadableSpan } from '@herald/test-kit/otel';
import { loginToken, startTestServer } from './helpers/chat.js';

/** SpanKind's values (the API's enum, without importing it here). */
const KIND = { SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4 } as const;

const redisUp = await redisAvailable();
if (!redisUp && IN_CI) throw new Error(`tracing.test.ts needs Redis at ${REDIS_URL}`);
if (!redisUp) console.warn(`[tracing.test] Redis at ${REDIS_URL} does not answer: its Redis case is reported as skipped`);

const BROKERS = [
  { name: 'memory broker', redis: false },
  ...(redisUp ? [{ name: 'Redis broker', redis: true }] : []),
] as const;

describe('OpenTelemetry: one chat.send is one trace', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  /** Herald's client with tracing on, logged in when given a token. */
  function tracedClient(url: string, token?: string) {
    const client = createHeraldClient<AppRouter>({ url, tracing: openTelemetry(), ...(token ? { connectionParams: { token } } : {}) });
    cleanup.defer(() => client.close());
    return client;
  }

  it.each(BROKERS)('shows the client call, the server call, the publish and the deliveries ($name)', async ({ redis }) => {
    const prefix = testPrefix();
    if (redis) cleanup.defer(() => deletePrefix(REDIS_URL, prefix));
    const chat = cleanup.add(await startTestServer(redis ? { broker: redisBroker({ url: REDIS_URL, prefix }) } : {}));
    const recorded = cleanup.add(recordTraces());
    const { token } = await loginToken(chat.server.url, 'ann');
    const ann = tracedClient(chat.server.url, token);
    const reader = tracedClient(chat.server.url);

    const lobby = recordChannel<Message>((handlers) => reader.trpc.chat.onMessage.subscribe({ room: 'lobby' }, handlers));
    cleanup.defer(() => lobby.unsubscribe());
    await lobby.until((events) => events.some((event) => event.type === 'live'), 5_000, 'the lobby live');

    const sent = await ann.trpc.chat.send.mutate({ room: 'lobby', text: 'traced' });
    await lobby.until((events) => events.some((event) => event.type === 'message' && event.message.id === sent.id), 5_000, 'the message delivered');

    const isClientSend = (span: ReadableSpan) => span.name === 'chat.send' && span.kind === KIND.CLIENT;
    const clientSend = await recorded.until(isClientSend, "the client's chat.send span");
    const traceId = clientSend.spanContext().traceId;
    const inTrace = (span: ReadableSpan) => span.spanContext().traceId === traceId;
    const serverSend = await recorded.until((span) => inTrace(span) && span.name === 'chat.send' && span.kind === KIND.SERVER, "the server's chat.send span");
    const publish = await recorded.until((span) => inTrace(span) && span.name === 'publish chat.room', 'the publish span');
    const delivery = await recorded.until((span) => inTrace(span) && span.name === 'process chat.room', 'the delivery span');

    // One trace: client call -> server call -> publish -> delivery batch.
    expect(clientSend.instrumentationScope.name).toBe('@herald/client');
    expect(parentOf(serverSend)).toBe(clientSend.spanContext().spanId);
    expect(serverSend.instrumentationScope.name).toBe('@herald/server');
    expect(serverSend.attributes).toMatchObject({ 'rpc.system': 'trpc', 'rpc.method': 'chat.send', 'herald.call.type': 'mutation' });
    expect(parentOf(publish)).toBe(serverSend.spanContext().spanId);
    expect(publish.kind).toBe(KIND.PRODUCER);
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'herald',
      'messaging.destination.name': 'chat.room:lobby',
      'messaging.destination.template': 'chat.room',
    });
    expect(parentOf(delivery)).toBe(publish.spanContext().spanId);
    expect(delivery.kind).toBe(KIND.CONSUMER);
    expect(delivery.links.map((link) => link.context.spanId)).toContain(publish.spanContext().spanId);
    expect(delivery.attributes).toMatchObject({ 'messaging.batch.message_count': 1, 'herald.delivery.subscribers': 1 });

    if (redis) {
      // The broker round trip of the publish, as its child.
      const roundTrip = await recorded.until((span) => inTrace(span) && span.name === 'redis publish', 'the Redis publish span');
      expect(parentOf(roundTrip)).toBe(publish.spanContext().spanId);
      expect(roundTrip.kind).toBe(KIND.CLIENT);
      expect(roundTrip.attributes).toMatchObject({ 'db.system.name': 'redis' });
    }
  });
});
