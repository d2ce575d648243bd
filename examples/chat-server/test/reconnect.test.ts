import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatServer } from '@herald/example-chat-server';
import { Cleanup, CLIENT_KINDS, pollUntil, recordStatuses } from '@herald/test-kit';
import { chatClient, loginToken, startTestServer, subscribeRoom, type ChatClient } from './helpers/chat.js';

/** Both server processes share it, so a token survives the restart. */
const AUTH_SECRET = 'reconnect-test-secret-'.padEnd(32, 's');
const ROOM = 'lobby';

const cleanup = new Cleanup();
let chat: ChatServer;

beforeEach(async () => {
  chat = await startTestServer({ authSecret: AUTH_SECRET });
  // The current server, whichever process that is by then.
  cleanup.defer(() => chat.close());
});
afterEach(() => cleanup.run());

/** Stops the server (reconnect notice, then every socket closed) and starts a new process on the same port. */
async function restartServer(): Promise<void> {
  const { port } = chat.server;
  await chat.close();
  // The memory broker's ids start at its boot millisecond; a restart within the
  // millisecond of the old process's last id would not be recognised as a reset.
  const closedAt = Date.now();
  await pollUntil(() => Date.now() > closedAt, 'the clock to move on', { timeoutMs: 1_000 });
  chat = await startTestServer({ port, authSecret: AUTH_SECRET });
}

describe.each(CLIENT_KINDS)('reconnect with the %s client', (kind) => {
  async function loggedInClient(): Promise<ChatClient> {
    const { token } = await loginToken(chat.server.url, `${kind}-user`);
    const client = cleanup.add(chatClient(kind, chat.server.url, { token }));
    await client.trpc.system.health.query();
    return client;
  }

  it('moves to a new socket on broadcastReconnect without losing or repeating messages', async () => {
    const client = await loggedInClient();
    const states = recordStatuses(client);
    const subscription = subscribeRoom(client.trpc, ROOM);
    await subscription.waitForLive();
    await client.trpc.chat.send.mutate({ room: ROOM, text: 'before' });
    await subscription.waitForMessages(1);

    chat.server.broadcastReconnect();
    // The subscription is started again on the new socket from its last
    // position: a second live marker, with nothing to replay.
    await subscription.waitForLive(2);
    await pollUntil(() => chat.server.connectionCount === 1, 'the old socket to close');

    await client.trpc.chat.send.mutate({ room: ROOM, text: 'after' });
    const messages = await subscription.waitForMessages(2);
    expect(messages.map((m) => m.text)).toEqual(['before', 'after']);
    expect(subscription.events.map(({ event }) => event.type)).toEqual(['live', 'message', 'live', 'message']);
    expect(subscription.events[2]?.event).toEqual({ type: 'live', replayed: 0 });
    expect(subscription.errors).toEqual([]);
    // Make-before-break: the old socket served until the new one was open, so the app saw no outage.
    expect(states.statuses).toEqual(['open']);
  });

  it('reconnects after a server restart: the subscription sees a reset gap, then new messages; calls work again', async () => {
    const client = await loggedInClient();
    const states = recordStatuses(client);
    const subscription = subscribeRoom(client.trpc, ROOM);
    await subscription.waitForLive();
    await client.trpc.chat.send.mutate({ room: ROOM, text: 'before restart' });
    await subscription.waitForMessages(1);

    await restartServer();

    // The resume position is from the old process, whose in-memory history is gone.
    await subscription.until((events) => events.filter((event) => event.type === 'live').length === 2, 10_000, 'resubscribe after restart');
    expect(subscription.events.slice(2).map(({ event }) => event)).toEqual([
      { type: 'gap', reason: 'reset' },
      { type: 'live', replayed: 0 },
    ]);

    const sent = await client.trpc.chat.send.mutate({ room: ROOM, text: 'after restart' });
    const messages = await subscription.waitForMessages(2);
    expect(messages.map((m) => m.text)).toEqual(['before restart', 'after restart']);
    expect(subscription.events.at(-1)?.event).toEqual({ type: 'message', message: sent });
    expect(subscription.errors).toEqual([]);

    // Queries work on the new connection; the new process only has what was sent to it.
    expect((await client.trpc.chat.history.query({ room: ROOM })).map((m) => m.text)).toEqual(['after restart']);
    expect(chat.server.connectionCount).toBe(1);
    expect(states.statuses).toEqual(['open', 'reconnecting', 'open']);
  });

  it('keeps answering queries after a restart, with no subscription open', async () => {
    const client = await loggedInClient();
    const states = recordStatuses(client);
    const before = await client.trpc.system.health.query();

    await restartServer();

    const after = await client.trpc.system.health.query();
    expect(after.nodeId).not.toBe(before.nodeId);
    expect(await client.trpc.chat.send.mutate({ room: ROOM, text: 'still logged in' })).toMatchObject({ text: 'still logged in' });
    expect(states.statuses).toEqual(['open', 'reconnecting', 'open']);
  });

  it('does not reconnect after close()', async () => {
    const client = await loggedInClient();
    const states = recordStatuses(client);
    // A second client of the same kind and backoff shows when a reconnect would have happened.
    const probe = cleanup.add(chatClient(kind, chat.server.url));
    await probe.trpc.system.health.query();
    expect(chat.server.connectionCount).toBe(2);

    await client.close();
    if (client.connection) expect(client.connection.current).toEqual({ status: 'closed' });
    await pollUntil(() => chat.server.connectionCount === 1, 'the closed client’s socket to go');
    if (client.connection) {
      // Herald makes close final: a later call fails instead of reopening the socket (stock tRPC reopens it).
      await expect(client.trpc.system.health.query()).rejects.toThrow(/was closed/);
      expect(chat.server.connectionCount).toBe(1);
    }

    // The restart sends every socket the reconnect notice, then drops it; the
    // probe's next call waits for its reconnect, by when the closed client would have too.
    await restartServer();
    await probe.trpc.system.health.query();

    expect(chat.server.connectionCount).toBe(1);
    expect(states.statuses).toEqual(['open', 'closed']);
  });
});
