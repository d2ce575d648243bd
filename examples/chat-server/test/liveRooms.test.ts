import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createChatApp, type AppRouter, type RoomSummary } from '@herald/example-chat-server';
import {
  Cleanup,
  CLIENT_KINDS,
  heraldClient,
  IN_CI,
  kill,
  REDIS_URL,
  redisAvailable,
  spawnTs,
  testPrefix,
  withTimeout,
  type ClientKind,
} from '@herald/test-kit';
import { chatClient, loginToken, startTestServer, subscribeRoom, type ChatTrpc } from './helpers/chat.js';

/** `chat.onRooms`' results as they arrive, and a wait on them. */
function watchRooms(trpc: ChatTrpc) {
  const results: { id: string; rooms: RoomSummary[] }[] = [];
  const waiters = new Set<() => void>();
  const subscription = trpc.chat.onRooms.subscribe(undefined, {
    onData: (event) => {
      results.push({ id: event.id, rooms: event.data });
      for (const waiter of [...waiters]) waiter();
    },
  });
  return {
    results,
    subscription,
    /** Resolves once the newest result passes `done`, bounded by 10 s. */
    until(done: (rooms: RoomSummary[]) => boolean, label: string): Promise<void> {
      const check = () => results.length > 0 && done(results.at(-1)!.rooms);
      if (check()) return Promise.resolve();
      let waiter: (() => void) | null = null;
      const reached = new Promise<void>((resolve) => {
        waiter = () => {
          if (check()) resolve();
        };
        waiters.add(waiter);
      });
      return withTimeout(reached, 10_000, label).finally(() => {
        if (waiter) waiters.delete(waiter);
      });
    },
  };
}

const roomOf = (rooms: RoomSummary[], name: string) => rooms.find((room) => room.name === name);

describe('chat.rooms as a live query (chat.onRooms)', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it.each(CLIENT_KINDS)("follows messages and members in every room (%s client; Herald's gets patches, the stock one whole results)", async (kind: ClientKind) => {
    const chat = cleanup.add(await startTestServer());
    const { token } = await loginToken(chat.server.url, 'ann');
    const watcher = chatClient(kind, chat.server.url);
    const ann = chatClient('herald', chat.server.url, { token });
    cleanup.defer(() => watcher.close());
    cleanup.defer(() => ann.close());

    const rooms = watchRooms(watcher.trpc);
    await rooms.until((list) => list.length === 0, 'the empty room list');

    await ann.trpc.chat.send.mutate({ room: 'lobby', text: 'one' });
    await ann.trpc.chat.send.mutate({ room: 'lobby', text: 'two' });
    await ann.trpc.chat.send.mutate({ room: 'games', text: 'three' });
    await rooms.until(
      (list) => roomOf(list, 'lobby')?.messageCount === 2 && roomOf(list, 'games')?.messageCount === 1,
      'message counts of both rooms',
    );

    // A logged-in subscriber of a room is a member of it.
    const lobby = subscribeRoom(ann.trpc, 'lobby');
    await rooms.until((list) => roomOf(list, 'lobby')?.memberCount === 1, 'ann in the lobby');
    lobby.unsubscribe();
    await rooms.until((list) => roomOf(list, 'lobby')?.memberCount === 0, 'ann gone from the lobby');

    expect(rooms.results.map((result) => result.rooms.map((room) => room.name))).toContainEqual(['games', 'lobby']);
    expect(rooms.results.every((result, i) => i === 0 || BigInt(result.id) > BigInt(rooms.results[i - 1]!.id))).toBe(true);
    // The plain query answers the same as the live form's newest result.
    expect(await watcher.trpc.chat.rooms.query()).toEqual(rooms.results.at(-1)!.rooms);
    rooms.subscription.unsubscribe();
  });

  it("serves chat.onMessage as the room channel's own stream, so it keeps the native write path", async () => {
    const app = createChatApp();
    cleanup.defer(() => app.close());
    const caller = app.router.createCaller({ user: { id: 'u-ann', name: 'ann' } });
    const stream = await caller.chat.onMessage({ room: 'lobby' });
    // The mark a Herald connection writes channel streams straight to the socket by (no wrapping generator).
    expect(Symbol.for('herald.nativeChannelStream') in (stream as object)).toBe(true);
    await stream[Symbol.asyncIterator]().return?.();
  });
});

const redisUp = await redisAvailable();
if (!redisUp && IN_CI) throw new Error(`liveRooms.test.ts needs Redis at ${REDIS_URL}`);
if (!redisUp) console.warn(`[liveRooms.test] Redis at ${REDIS_URL} does not answer: its suite is reported as skipped`);

describe.runIf(redisUp)('chat.onRooms across chat nodes on one Redis', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  async function startNode(prefix: string, secret: string) {
    const { child, output } = await spawnTs('examples/chat-server/test/fixtures/redisChatNode.ts', [REDIS_URL, prefix, secret], {
      ready: /listening \d+/,
    });
    cleanup.defer(() => kill(child));
    const port = Number(/listening (\d+)/.exec(output())?.[1]);
    return { child, url: `ws://127.0.0.1:${port}/ws` };
  }

  it('gives a client the current list on another node after its node is killed, and never one it already has', async () => {
    const prefix = testPrefix();
    const secret = randomBytes(32).toString('hex');
    const [a, b] = await Promise.all([startNode(prefix, secret), startNode(prefix, secret)]);
    const { token } = await loginToken(b.url, 'ann');
    const writer = chatClient('herald', b.url, { token });
    const reader = heraldClient<AppRouter>([a.url, b.url]);
    cleanup.defer(() => writer.close());
    cleanup.defer(() => reader.close());

    const rooms = watchRooms(reader.trpc);
    await rooms.until((list) => list.length === 0, 'the empty list from node a');
    await writer.trpc.chat.send.mutate({ room: 'lobby', text: 'one' });
    await rooms.until((list) => roomOf(list, 'lobby')?.messageCount === 1, 'the message sent on node b, seen on node a');

    // Node a dies without a word; the reader moves to node b while messages go on.
    await kill(a.child, 'SIGKILL');
    for (let n = 2; n <= 5; n++) await writer.trpc.chat.send.mutate({ room: 'lobby', text: String(n) });
    await rooms.until((list) => roomOf(list, 'lobby')?.messageCount === 5, 'the current list on node b');
    expect(rooms.results.every((result, i) => i === 0 || BigInt(result.id) > BigInt(rooms.results[i - 1]!.id))).toBe(true);
  });
});
