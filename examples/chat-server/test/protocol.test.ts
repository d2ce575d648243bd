import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { AppRouter, ChatServer } from '@herald/example-chat-server';
import { createWSClient } from '@trpc/client';
import { CloseCode } from '@herald/shared';
import { Cleanup, CLIENT_KINDS, heraldClient, trpcErrorOf, upgradeStatus, withTimeout, type ClientKind } from '@herald/test-kit';
import { chatClient, loginToken, startTestServer, subscribeRoom, type ChatClient } from './helpers/chat.js';

const cleanup = new Cleanup();
let chat: ChatServer;

beforeEach(async () => {
  chat = cleanup.add(await startTestServer());
});
afterEach(() => cleanup.run());

describe.each(CLIENT_KINDS)('protocol over the %s client', (kind) => {
  /** A logged-in client of this kind: the login goes over its own anonymous client. */
  async function loggedIn(name = 'ann'): Promise<{ client: ChatClient; userId: string }> {
    const anonymous = cleanup.add(chatClient(kind, chat.server.url));
    const session = await anonymous.trpc.auth.login.mutate({ name });
    const client = cleanup.add(chatClient(kind, chat.server.url, { token: session.token }));
    return { client, userId: session.user.id };
  }

  it('logs in, sends, reads history and health, all over one socket per client', async () => {
    const anonymous = cleanup.add(chatClient(kind, chat.server.url));
    const session = await anonymous.trpc.auth.login.mutate({ name: '  ann  ' });
    expect(session.user).toEqual({ id: expect.stringMatching(/^u_/), name: 'ann' });
    expect(session.token.split('.')).toHaveLength(3);

    const client = cleanup.add(chatClient(kind, chat.server.url, { token: session.token }));
    const sent = await client.trpc.chat.send.mutate({ room: 'lobby', text: 'first' });
    expect(sent).toEqual({ id: expect.any(String), room: 'lobby', author: session.user, text: 'first', sentAt: expect.any(Date) });

    await client.trpc.chat.send.mutate({ room: 'lobby', text: 'second' });
    await client.trpc.chat.send.mutate({ room: 'lobby', text: 'third' });
    await client.trpc.chat.send.mutate({ room: 'elsewhere', text: 'other room' });

    const all = await client.trpc.chat.history.query({ room: 'lobby' });
    expect(all.map((m) => m.text)).toEqual(['first', 'second', 'third']);
    expect(all[0]).toEqual(sent);
    for (const message of all) expect(message.sentAt).toBeInstanceOf(Date);
    expect(all.map((m) => m.sentAt.getTime())).toEqual([...all.map((m) => m.sentAt.getTime())].sort((a, b) => a - b));

    const latestTwo = await client.trpc.chat.history.query({ room: 'lobby', limit: 2 });
    expect(latestTwo.map((m) => m.text)).toEqual(['second', 'third']);

    // History needs no login: the anonymous client reads it too.
    expect(await anonymous.trpc.chat.history.query({ room: 'empty-room' })).toEqual([]);

    const health = await client.trpc.system.health.query();
    expect(health).toEqual({ uptimeMs: expect.any(Number), nodeId: expect.any(String) });
    expect(health.uptimeMs).toBeGreaterThanOrEqual(0);

    // Every call above went over the two clients' own sockets, nothing else.
    expect(chat.server.connectionCount).toBe(2);
  });

  it('delivers a message another client sends to a subscriber, after the live marker', async () => {
    const { client: subscriber } = await loggedIn('sub');
    const { client: sender, userId: senderId } = await loggedIn('pub');
    const subscription = subscribeRoom(subscriber.trpc, 'lobby');
    await subscription.waitForLive();

    const sent = await sender.trpc.chat.send.mutate({ room: 'lobby', text: 'hello subscriber' });
    await sender.trpc.chat.send.mutate({ room: 'another-room', text: 'not for you' });
    const [received] = await subscription.waitForMessages(1);

    expect(subscription.events.map(({ event }) => event)).toEqual([
      { type: 'live', replayed: 0 },
      { type: 'message', message: sent },
    ]);
    expect(received?.author.id).toBe(senderId);
    expect(received?.sentAt).toBeInstanceOf(Date);
    // Every event is tracked: its id is a stream position, the message's own one last.
    expect(subscription.events.map(({ id }) => id)).toEqual([expect.stringMatching(/^\d+-\d+$/), expect.stringMatching(/^\d+-\d+$/)]);
    subscription.unsubscribe();
  });

  it('reports validation failures as BAD_REQUEST with the zod issues', async () => {
    const { client } = await loggedIn();

    const badRoom = await trpcErrorOf<AppRouter>(client.trpc.chat.send.mutate({ room: 'Bad Room!', text: 'hi' }));
    expect(badRoom.data?.code).toBe('BAD_REQUEST');
    expect(badRoom.data?.httpStatus).toBe(400);
    expect(badRoom.data?.zodIssues).toEqual([expect.objectContaining({ path: ['room'], code: expect.any(String), message: expect.any(String) })]);

    const emptyText = await trpcErrorOf<AppRouter>(client.trpc.chat.send.mutate({ room: 'lobby', text: '' }));
    expect(emptyText.data?.code).toBe('BAD_REQUEST');
    expect(emptyText.data?.zodIssues?.map((issue) => issue.path)).toEqual([['text']]);

    const emptyName = await trpcErrorOf<AppRouter>(client.trpc.auth.login.mutate({ name: '   ' }));
    expect(emptyName.data?.code).toBe('BAD_REQUEST');
    expect(emptyName.data?.zodIssues?.map((issue) => issue.path)).toEqual([['name']]);

    const noName = await trpcErrorOf<AppRouter>(client.trpc.auth.login.mutate({ name: '' }));
    expect(noName.data?.code).toBe('BAD_REQUEST');

    // Nothing invalid was stored, and the socket still serves calls.
    expect(await client.trpc.chat.history.query({ room: 'lobby' })).toEqual([]);
  });

  it('refuses chat.send without a token, and lets the anonymous connection call public procedures', async () => {
    const anonymous = cleanup.add(chatClient(kind, chat.server.url));
    const noToken = await trpcErrorOf<AppRouter>(anonymous.trpc.chat.send.mutate({ room: 'lobby', text: 'hi' }));
    expect(noToken.data?.code).toBe('UNAUTHORIZED');
    expect(noToken.message).toMatch(/Log in with auth\.login/);
    // An anonymous connection is still a working connection for public procedures.
    expect(await anonymous.trpc.system.health.query()).toMatchObject({ nodeId: expect.any(String) });
    expect(await anonymous.trpc.chat.history.query({ room: 'lobby' })).toEqual([]);
  });

  it('refuses a connection with a garbage token, or another server’s token, at connect with close code 4001', async () => {
    const other = cleanup.add(await startTestServer({ authSecret: 'x'.repeat(32) }));
    const { token: foreignToken } = await loginToken(other.server.url);
    for (const token of ['not-a-jwt', foreignToken]) {
      const code = await closeCodeOf(kind, chat.server.url, { token });
      expect(code).toBe(CloseCode.UNAUTHORIZED);
    }
    // Nothing ran for them, and the server still serves everyone else.
    const { client } = await loggedIn('after');
    expect(await client.trpc.chat.send.mutate({ room: 'lobby', text: 'still up' })).toMatchObject({ text: 'still up' });
  });
});

/**
 * The close code a client of `kind` sees when it connects with `connectionParams`:
 * Herald's client reports it in its `reconnecting` state, tRPC's in `onClose`.
 */
async function closeCodeOf(kind: ClientKind, url: string, connectionParams: Record<string, string>): Promise<number> {
  if (kind === 'herald') {
    const client = cleanup.add(heraldClient<AppRouter>(url, connectionParams));
    return withTimeout(
      new Promise<number>((resolve) => {
        const stop = client.connection.subscribe((state) => {
          const code = state.status === 'reconnecting' ? /\((\d{4})/.exec(state.error?.message ?? '')?.[1] : undefined;
          if (code) {
            stop();
            resolve(Number(code));
          }
        });
      }),
      5_000,
      'the Herald client to be refused',
    );
  }
  let refused: (code: number) => void = () => undefined;
  const code = new Promise<number>((resolve) => (refused = resolve));
  const wsClient = createWSClient({
    url,
    connectionParams,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 1_000,
    onClose: (cause) => {
      if (cause?.code) refused(cause.code);
    },
  });
  cleanup.defer(() => wsClient.close());
  return withTimeout(code, 5_000, 'the stock client to be refused');
}

describe('authentication at connect', () => {
  it('answers a refused token with an UNAUTHORIZED error frame, then closes with 4001', async () => {
    const socket = new WebSocket(`${chat.server.url}?connectionParams=1`);
    cleanup.defer(() => socket.terminate());
    const frames: unknown[] = [];
    socket.on('message', (data: Buffer) => frames.push(JSON.parse(data.toString())));
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ method: 'connectionParams', data: { token: 'not-a-jwt' } }));
    // A request sent right behind it never runs.
    socket.send(JSON.stringify({ id: 1, method: 'mutation', params: { path: 'chat.send', input: { json: { room: 'lobby', text: 'x' } } } }));

    expect(await withTimeout(closed, 5_000, 'the refusal')).toEqual({ code: CloseCode.UNAUTHORIZED, reason: 'unauthorized' });
    expect(frames).toEqual([
      {
        id: null,
        error: {
          json: expect.objectContaining({
            message: 'Token refused: token signature or format invalid',
            data: expect.objectContaining({ code: 'UNAUTHORIZED', heraldCode: 'UNAUTHORIZED' }),
          }),
        },
      },
    ]);
    const reader = cleanup.add(chatClient('stock', chat.server.url));
    expect(await reader.trpc.chat.history.query({ room: 'lobby' })).toEqual([]);
  });
});

describe('HTTP endpoints', () => {
  it('answers /healthz with status ok', async () => {
    const response = await fetch(`${chat.server.httpUrl}/healthz`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(await response.json()).toMatchObject({ status: 'ok' });
  });

  it('answers /readyz with 200 while the broker is up', async () => {
    const response = await fetch(`${chat.server.httpUrl}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ready', broker: 'memory' });
  });

  it('answers an unknown path with 404', async () => {
    const response = await fetch(`${chat.server.httpUrl}/nope`);
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: 'NOT_FOUND' });
  });

  it('refuses a WebSocket upgrade on a path other than /ws', async () => {
    expect(await upgradeStatus(`${chat.server.httpUrl.replace(/^http/, 'ws')}/nope`)).toBe(404);
    expect(chat.server.connectionCount).toBe(0);
  });
});
