import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient, onChannelEvent } from '@herald/client';
import type { AppRouter, Message } from '@herald/example-chat-server';
import { Cleanup, FAST_BACKOFF, pollUntil } from '@herald/test-kit';
import { loginToken, startTestServer } from './helpers/chat.js';

/**
 * Typed snapshot-to-stream resume: `chat.snapshot` returns the newest messages
 * with the position they end at, and `chat.onMessage` started from that
 * position continues exactly after them, however fast messages arrive.
 */
describe('snapshot then stream', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('gives every client every message exactly once while messages arrive at a high rate', async () => {
    // One publisher sends about 1,500 mutations a second, above the default per-connection rate limit.
    const chat = cleanup.add(await startTestServer({ historySize: 5_000, limits: { rate: false } }));
    const { token } = await loginToken(chat.server.url);
    const publisher = createHeraldClient<AppRouter>({ url: chat.server.url, connectionParams: { token }, backoff: FAST_BACKOFF });
    cleanup.defer(() => publisher.close());

    const total = 1_500;
    let published = 0;
    const publishing = (async () => {
      // Several in flight at once: the server sees a steady stream while readers join.
      for (let n = 1; n <= total; n += 5) {
        await Promise.all(
          [0, 1, 2, 3, 4].map((i) => (n + i <= total ? publisher.trpc.chat.send.mutate({ room: 'fast', text: String(n + i) }) : null)),
        );
        published = Math.min(total, n + 4);
      }
    })();

    interface Reader {
      readonly texts: string[];
      readonly resyncs: string[];
    }
    const readers: Reader[] = [];
    // Readers join one after another while the publisher runs.
    for (let r = 0; r < 8; r++) {
      await pollUntil(() => published >= (r + 1) * 150 || published === total, `publish progress for reader ${r}`, { timeoutMs: 10_000 });
      const client = createHeraldClient<AppRouter>({ url: chat.server.url, backoff: FAST_BACKOFF });
      cleanup.defer(() => client.close());
      const reader: Reader = { texts: [], resyncs: [] };
      readers.push(reader);
      const snapshot = await client.trpc.chat.snapshot.query({ room: 'fast', limit: 200 });
      reader.texts.push(...snapshot.messages.map((m) => m.text));
      const subscription = client.trpc.chat.onMessage.subscribe(
        { room: 'fast', lastEventId: snapshot.position },
        {
          onData: onChannelEvent<Message>({
            message: (message) => reader.texts.push(message.text),
            resync: (reason) => reader.resyncs.push(reason),
          }),
        },
      );
      cleanup.defer(() => subscription.unsubscribe());
    }
    await publishing;
    await pollUntil(() => readers.every((reader) => reader.texts.at(-1) === String(total)), 'every reader to reach the end', { timeoutMs: 10_000 });

    for (const reader of readers) {
      expect(reader.resyncs).toEqual([]);
      const numbers = reader.texts.map(Number);
      const first = numbers[0] ?? 1;
      // Contiguous from wherever the snapshot started to the last message: no gap, no duplicate.
      expect(numbers).toEqual(Array.from({ length: total - first + 1 }, (_, i) => first + i));
    }
  });

  it('makes the app handle resync: onChannelEvent without it does not compile', () => {
    // Never called; the compiler checks it.
    const compileOnly = () =>
      // @ts-expect-error `resync` is required
      onChannelEvent<Message>({ message: () => undefined });
    expect(typeof compileOnly).toBe('function');
  });
});
