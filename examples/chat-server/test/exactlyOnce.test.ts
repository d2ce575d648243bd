import { afterEach, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy } from '@herald/server/testing';
import { createHeraldClient } from '@herald/client';
import { transformer } from '@herald/shared';
import type { AppRouter, ChatServer, Message } from '@herald/example-chat-server';
import { answerTo, Cleanup, FAST_BACKOFF, rawAuthenticatedSocket, recordChannel, resultOf, TEST_ENCODING } from '@herald/test-kit';
import { loginToken, startTestServer } from './helpers/chat.js';

/**
 * Exactly-once mutations: Herald's client resends a mutation cut off by a
 * drop with its idempotency key, and the server answers a repeat with the
 * first outcome instead of running it again.
 */
describe('exactly-once mutations', () => {
  const cleanup = new Cleanup();
  let chat: ChatServer;
  let proxy: FaultProxy;

  afterEach(() => cleanup.run());

  async function setUp(): Promise<void> {
    // The chaos test sends 2,000 mutations (plus resends) from one user in a few seconds, well past the
    // default request budget, which a reconnect does not refill: this suite is about exactly-once, not rates.
    chat = cleanup.add(await startTestServer({ historySize: 5_000, limits: { rate: { perSecond: 5_000, burst: 5_000 } } }));
    proxy = await createFaultProxy({ target: { port: chat.server.port } });
    cleanup.defer(() => proxy.close());
  }

  it('answers a repeated idempotency key with the first result and runs the mutation once', async () => {
    await setUp();
    const { token } = await loginToken(chat.server.url);
    const socket = cleanup.add(await rawAuthenticatedSocket(chat.server.url, token));
    const send = (id: number) =>
      socket.send({
        id,
        method: 'mutation',
        params: { path: 'chat.send', input: transformer.serialize({ room: 'once', text: 'only once' }), idempotencyKey: 'key-1' },
      });
    send(1);
    send(2); // the repeat arrives while the first may still run
    const answers = await Promise.all([1, 2].map((id) => socket.frame(answerTo(id), 5_000, `answer ${id}`)));
    send(3); // and one after it finished
    answers.push(await socket.frame(answerTo(3), 5_000, 'the third answer'));

    const ids = answers.map((frame) => resultOf<{ id: string }>(frame).id);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    // Three answers and nothing else under a request id (the session notice has none).
    expect(socket.frames.filter((frame) => (frame as { id?: unknown }).id !== null)).toHaveLength(3);
    const reader = createHeraldClient<AppRouter>({ url: chat.server.url });
    cleanup.defer(() => reader.close());
    expect((await reader.trpc.chat.history.query({ room: 'once' })).map((m) => m.text)).toEqual(['only once']);
  });

  it('keeps 2,000 chat.send calls exactly once and in order while connections are cut at random', async () => {
    await setUp();
    const { token } = await loginToken(chat.server.url);
    const client = createHeraldClient<AppRouter>({ url: proxy.url(), connectionParams: { token }, backoff: FAST_BACKOFF, encoding: TEST_ENCODING });
    cleanup.defer(() => client.close());

    const total = 2_000;
    let sending = true;
    let cuts = 0;
    const chaos = (async () => {
      for (let round = 0; sending && round < 400; round++) {
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 40));
        cuts += proxy.cutRandom(1);
      }
    })();
    const outcomes: string[] = [];
    for (let n = 1; n <= total; n++) {
      const message = await client.trpc.chat.send.mutate({ room: 'chaos', text: `m${n}` });
      outcomes.push(message.text);
    }
    sending = false;
    await chaos;

    expect(cuts).toBeGreaterThan(5);
    expect(outcomes).toEqual(Array.from({ length: total }, (_, i) => `m${i + 1}`));
    const reader = createHeraldClient<AppRouter>({ url: chat.server.url });
    cleanup.defer(() => reader.close());
    // chat.history answers at most 200; the newest 200 must be the last 200 sent.
    const snapshot = await reader.trpc.chat.history.query({ room: 'chaos', limit: 200 });
    expect(snapshot.map((m) => m.text)).toEqual(Array.from({ length: 200 }, (_, i) => `m${total - 199 + i}`));
    // The whole history: '0-0' is before every position, so the broker answers
    // with a `reset` notice followed by everything it holds.
    const replay = recordChannel<Message>((handlers) => reader.trpc.chat.onMessage.subscribe({ room: 'chaos', lastEventId: '0-0' }, handlers));
    cleanup.defer(() => replay.unsubscribe());
    const stored = await replay.waitForMessages(total, 10_000);
    expect(stored.map((m) => m.text)).toEqual(Array.from({ length: total }, (_, i) => `m${i + 1}`));
  });
});
