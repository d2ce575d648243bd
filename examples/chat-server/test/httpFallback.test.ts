import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient, transformer, type ConnectionState, type HeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import type { AppRouter, ChatServer, Message } from '@herald/example-chat-server';
import {
  answerTo,
  Cleanup,
  FAST_BACKOFF,
  nextEvent,
  nextState,
  pollUntil,
  rawAuthenticatedSocket,
  resultOf,
  startUpgradeProxy,
  trpcErrorOf,
  withTimeout,
  type UpgradeProxy,
} from '@herald/test-kit';
import { loginToken, startTestServer, subscribeRoom, type RoomSubscription } from './helpers/chat.js';

/**
 * The HTTP fallback: the demo's whole flow through a proxy that strips
 * WebSocket upgrades (`transport: 'http'`, and `'auto'` falling back), the
 * move back to WebSocket once upgrades pass (and the move down when they stop
 * passing) in the middle of a stream, and exactly-once mutations over HTTP.
 */
const ROOM = 'fallback';
/** Upgrade probes that never fire during a test that does not want them. */
const NO_PROBE = { upgradeProbeIntervalMs: 600_000 } as const;

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function setUp(upgrades: 'refuse' | 'drop' | 'forward' = 'refuse'): Promise<{ chat: ChatServer; proxy: UpgradeProxy }> {
  const chat = cleanup.add(await startTestServer({ historySize: 5_000 }));
  const proxy = await startUpgradeProxy({ targetPort: chat.server.port, upgrades });
  cleanup.defer(() => proxy.close());
  return { chat, proxy };
}

function client(options: Parameters<typeof createHeraldClient>[0]): HeraldClient<AppRouter> {
  return cleanup.add(createHeraldClient<AppRouter>({ backoff: FAST_BACKOFF, http: httpTransport, ...options }));
}

/** Every `open` state a client goes through (and the others by status), in order. */
function recordStates(connection: HeraldClient<AppRouter>['connection']): string[] {
  const seen: string[] = [describe(connection.current)];
  connection.subscribe((next) => seen.push(describe(next)));
  return seen;
  function describe(state: ConnectionState): string {
    return state.status === 'open' ? `open:${state.transport}` : state.status;
  }
}

function transportOf(connection: HeraldClient<AppRouter>['connection']): string | null {
  const state = connection.current;
  return state.status === 'open' ? state.transport : null;
}

function expectEachOnceInOrder(subscription: RoomSubscription, texts: readonly string[]): void {
  expect(subscription.messages().map((m) => m.text)).toEqual(texts);
  const ids = subscription.events.map(({ id }) => id);
  // Stream ids only grow: nothing repeated, nothing out of order.
  for (let i = 1; i < ids.length; i++) expect(compareIds(ids[i - 1] as string, ids[i] as string)).toBeLessThanOrEqual(0);
  const messageIds = subscription.events.filter(({ event }) => event.type === 'message').map(({ id }) => id);
  expect(new Set(messageIds).size).toBe(messageIds.length);
  expect(subscription.errors).toEqual([]);
}

function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

describe.each(['http', 'auto'] as const)('the demo through a proxy that refuses upgrades, transport %s', (transport) => {
  it('logs in, sends, subscribes with presence, and resumes after a cut without losing or repeating a message', async () => {
    const { chat, proxy } = await setUp('refuse');
    const anonymous = client({ url: proxy.wsUrl, transport, httpFallback: NO_PROBE });
    const { token, user } = await anonymous.trpc.auth.login.mutate({ name: 'Ann' });
    expect(transportOf(anonymous.connection)).toBe('http');
    // `auto` tried the WebSocket first, and was answered 403 once: enough to fall back.
    expect(proxy.upgradesRefused).toBe(transport === 'auto' ? 1 : 0);

    const ann = client({ url: proxy.wsUrl, transport, connectionParams: { token }, httpFallback: NO_PROBE });
    const states = recordStates(ann.connection);
    const room = subscribeRoom(ann.trpc, ROOM);
    await room.waitForLive();
    // Presence: the SSE stream carried the token (connectionParams), so Ann is a member.
    await pollUntil(async () => (await ann.trpc.chat.members.query({ room: ROOM })).some((m) => m.info.id === user.id), 'Ann in presence');

    const sent = await ann.trpc.chat.send.mutate({ room: ROOM, text: 'one' });
    expect(sent.author).toEqual(user); // the mutation carried the token (Authorization header)
    expect(sent.sentAt).toBeInstanceOf(Date);
    await room.waitForMessages(1);

    // Bob writes over a direct WebSocket while Ann's network is cut.
    const bob = client({ url: chat.server.url, connectionParams: { token: (await loginToken(chat.server.url, 'Bob')).token } });
    const reconnecting = nextState(ann, 'reconnecting');
    proxy.setOffline(true);
    proxy.cutAll();
    await reconnecting;
    for (const text of ['two', 'three', 'four']) await bob.trpc.chat.send.mutate({ room: ROOM, text });
    proxy.setOffline(false);
    await room.waitForMessages(4, 10_000);
    expect(transportOf(ann.connection)).toBe('http');

    await ann.trpc.chat.send.mutate({ room: ROOM, text: 'five' });
    await room.waitForMessages(5);
    expectEachOnceInOrder(room, ['one', 'two', 'three', 'four', 'five']);
    expect((await ann.trpc.chat.history.query({ room: ROOM })).map((m) => m.text)).toEqual(['one', 'two', 'three', 'four', 'five']);
    expect(states.filter((s) => s.startsWith('open'))).toEqual(['open:http', 'open:http']);
    expect(proxy.upgradesForwarded).toBe(0);
  });
});

describe('transport auto', () => {
  it('falls back to HTTP after upgrades that get no answer at all', async () => {
    const { proxy } = await setUp('drop');
    const anonymous = client({ url: proxy.wsUrl, transport: 'auto', httpFallback: { afterFailures: 2, ...NO_PROBE } });
    const health = await anonymous.trpc.system.health.query();
    expect(health.nodeId).toEqual(expect.any(String));
    expect(transportOf(anonymous.connection)).toBe('http');
    expect(proxy.upgradesRefused).toBe(2);
  });

  it('stays on WebSocket when upgrades pass', async () => {
    const { proxy } = await setUp('forward');
    const anonymous = client({ url: proxy.wsUrl, transport: 'auto' });
    await anonymous.trpc.system.health.query();
    expect(transportOf(anonymous.connection)).toBe('websocket');
    expect(proxy.upgradesRefused).toBe(0);
  });

  it('moves back to WebSocket mid-stream once upgrades pass, without losing or repeating a message', async () => {
    const { chat, proxy } = await setUp('refuse');
    const { token } = await loginToken(chat.server.url, 'Ann');
    const ann = client({ url: proxy.wsUrl, transport: 'auto', connectionParams: { token }, httpFallback: { upgradeProbeIntervalMs: 100 } });
    const states = recordStates(ann.connection);
    const room = subscribeRoom(ann.trpc, ROOM);
    await room.waitForLive();
    expect(transportOf(ann.connection)).toBe('http');
    let receivedAtSwitch = -1;
    const movedToWebSocket = new Promise<void>((resolve) =>
      ann.connection.subscribe((next) => {
        if (next.status !== 'open' || next.transport !== 'websocket') return;
        receivedAtSwitch = room.messages().length;
        resolve();
      }),
    );

    const bob = client({ url: chat.server.url, connectionParams: { token: (await loginToken(chat.server.url, 'Bob')).token } });
    const total = 300;
    const texts = Array.from({ length: total }, (_, i) => `m${i}`);
    for (const [i, text] of texts.entries()) {
      if (i === 100) proxy.setUpgrades('forward'); // the next probe gets through
      await bob.trpc.chat.send.mutate({ room: ROOM, text });
      // Spread the stream over the probe interval, so the switch lands mid-stream.
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await room.waitForMessages(total, 10_000);
    await withTimeout(movedToWebSocket, 5_000, 'the move to WebSocket');
    expectEachOnceInOrder(room, texts);
    // Make-before-break: the app never saw the link down.
    expect(states).toEqual(['connecting', 'reconnecting', 'open:http', 'open:websocket']);
    // The move happened while messages were flowing, and the SSE streams were closed after it.
    expect(receivedAtSwitch).toBeGreaterThan(0);
    expect(receivedAtSwitch).toBeLessThan(total);
    expect(proxy.upgradesForwarded).toBeGreaterThanOrEqual(1);
    await pollUntil(() => proxy.openStreams === 0, 'the event streams to close');

    // Calls work on the WebSocket.
    await ann.trpc.chat.send.mutate({ room: ROOM, text: 'on the socket' });
    await room.waitForMessages(total + 1);
  });

  it('moves down to HTTP mid-stream when upgrades stop passing, without losing or repeating a message', async () => {
    const { chat, proxy } = await setUp('forward');
    const { token } = await loginToken(chat.server.url, 'Ann');
    const ann = client({ url: proxy.wsUrl, transport: 'auto', connectionParams: { token }, httpFallback: NO_PROBE });
    const room = subscribeRoom(ann.trpc, ROOM);
    await room.waitForLive();
    expect(transportOf(ann.connection)).toBe('websocket');

    const bob = client({ url: chat.server.url, connectionParams: { token: (await loginToken(chat.server.url, 'Bob')).token } });
    const texts = Array.from({ length: 200 }, (_, i) => `m${i}`);
    for (const [i, text] of texts.entries()) {
      if (i === 60) {
        proxy.setUpgrades('refuse');
        proxy.cutAll();
      }
      await bob.trpc.chat.send.mutate({ room: ROOM, text });
    }
    await room.waitForMessages(texts.length, 10_000);
    expect(transportOf(ann.connection)).toBe('http');
    expectEachOnceInOrder(room, texts);
  });
});

describe('mutations over HTTP run once per Idempotency-Key', () => {
  async function post(url: string, token: string, text: string, key: string | null, batch = false): Promise<Response> {
    const input = transformer.serialize({ room: ROOM, text });
    return fetch(`${url}/trpc/chat.send${batch ? '?batch=1' : ''}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(key ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(batch ? { 0: input } : input),
    });
  }

  async function history(chat: ChatServer): Promise<string[]> {
    const reader = client({ url: chat.server.url });
    return (await reader.trpc.chat.history.query({ room: ROOM })).map((m) => m.text);
  }

  it('answers a repeated key with the first result, as httpLink and httpBatchLink expect it', async () => {
    const { chat } = await setUp();
    const { token } = await loginToken(chat.server.url);
    const first = await post(chat.server.httpUrl, token, 'only once', 'key-1');
    const again = await post(chat.server.httpUrl, token, 'only once', 'key-1');
    const batched = await post(chat.server.httpUrl, token, 'only once', 'key-1', true);
    expect([first.status, again.status, batched.status]).toEqual([200, 200, 200]);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const messageOf = (body: unknown) => transformer.deserialize((body as { result: { data: never } }).result.data) as Message;
    const [a, b, c] = [messageOf(await first.json()), messageOf(await again.json()), messageOf(((await batched.json()) as unknown[])[0])];
    expect(b.id).toBe(a.id);
    expect(c.id).toBe(a.id);
    expect(b.sentAt).toBeInstanceOf(Date);
    // Without a key, each request runs.
    await post(chat.server.httpUrl, token, 'no key', null);
    await post(chat.server.httpUrl, token, 'no key', null);
    expect(await history(chat)).toEqual(['only once', 'no key', 'no key']);
  });

  it('shares keys with the WebSocket side: a retry that switched transport gets the first outcome', async () => {
    const { chat } = await setUp();
    const { token } = await loginToken(chat.server.url);
    const socket = cleanup.add(await rawAuthenticatedSocket(chat.server.url, token));
    socket.send({
      id: 1,
      method: 'mutation',
      params: { path: 'chat.send', input: transformer.serialize({ room: ROOM, text: 'over the socket' }), idempotencyKey: 'shared-key' },
    });
    const overSocket = resultOf<Message>(await socket.frame(answerTo(1), 5_000, 'the WebSocket answer'));

    const overHttp = await post(chat.server.httpUrl, token, 'over the socket', 'shared-key');
    expect(overHttp.headers.get('idempotent-replayed')).toBe('true');
    expect((transformer.deserialize(((await overHttp.json()) as { result: { data: never } }).result.data) as Message).id).toBe(overSocket.id);

    // And the other way round: first over HTTP, then over the socket.
    const first = await post(chat.server.httpUrl, token, 'over http', 'other-key');
    const firstId = (transformer.deserialize(((await first.json()) as { result: { data: never } }).result.data) as Message).id;
    socket.send({
      id: 2,
      method: 'mutation',
      params: { path: 'chat.send', input: transformer.serialize({ room: ROOM, text: 'over http' }), idempotencyKey: 'other-key' },
    });
    expect(resultOf<Message>(await socket.frame(answerTo(2), 5_000, 'the second WebSocket answer')).id).toBe(firstId);
    // Two answers and nothing else under a request id (the session notice has none).
    expect(socket.frames.filter((frame) => (frame as { id?: unknown }).id !== null)).toHaveLength(2);
    expect(await history(chat)).toEqual(['over the socket', 'over http']);
  });

  it('replays an error outcome with its status, and refuses one key for a batch of several mutations', async () => {
    const { chat } = await setUp();
    const { token } = await loginToken(chat.server.url);
    const bad = { room: 'NOT A ROOM', text: 'x' };
    const send = () =>
      fetch(`${chat.server.httpUrl}/trpc/chat.send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': 'bad-key' },
        body: JSON.stringify(transformer.serialize(bad)),
      });
    const [first, again] = [await send(), await send()];
    expect([first.status, again.status]).toEqual([400, 400]);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const shapeOf = async (response: Response) => transformer.deserialize(((await response.json()) as { error: never }).error) as { data: { code: string } };
    expect((await shapeOf(first)).data.code).toBe('BAD_REQUEST');
    expect((await shapeOf(again)).data.code).toBe('BAD_REQUEST');

    const input = transformer.serialize({ room: ROOM, text: 'x' });
    const batch = await fetch(`${chat.server.httpUrl}/trpc/chat.send,chat.send?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'idempotency-key': 'batch-key' },
      body: JSON.stringify({ 0: input, 1: input }),
    });
    expect(batch.status).toBe(400);
    expect(await history(chat)).toEqual([]);
  });

  it("Herald's client resends a mutation whose response was lost, with the same key: it runs once", async () => {
    const { chat, proxy } = await setUp('refuse');
    const { token } = await loginToken(chat.server.url);
    const ann = client({ url: proxy.wsUrl, transport: 'http', connectionParams: { token } });
    await ann.trpc.system.health.query();
    proxy.loseNextResponse('/trpc/chat.send');
    const sent = await ann.trpc.chat.send.mutate({ room: ROOM, text: 'sent once' });
    expect(sent.text).toBe('sent once');
    expect(await history(chat)).toEqual(['sent once']);
  });
});

describe('auth over HTTP', () => {
  it('refuses a missing or forged token on calls and on event streams alike', async () => {
    const { chat, proxy } = await setUp();
    const { token } = await loginToken(chat.server.url);
    const anonymous = client({ url: proxy.wsUrl, transport: 'http' });
    const refused = await trpcErrorOf(anonymous.trpc.chat.send.mutate({ room: ROOM, text: 'x' }));
    expect(refused.data?.code).toBe('UNAUTHORIZED');

    const forged = `${token.slice(0, -4)}AAAA`;
    const badToken = client({ url: proxy.wsUrl, transport: 'http', connectionParams: { token: forged } });
    const rejected = await trpcErrorOf(badToken.trpc.chat.send.mutate({ room: ROOM, text: 'x' }));
    expect(rejected.data?.code).toBe('UNAUTHORIZED');
    // The stream is refused the same way, as an error the subscription ends with (not a retry loop).
    const stream = subscribeRoom(badToken.trpc, ROOM);
    await expect(nextEvent(stream, () => true, 5_000, 'the stream refusal')).rejects.toThrow(/subscription failed/);
    expect(stream.errors).toHaveLength(1);
    expect(stream.events).toEqual([]);
    expect((stream.errors[0] as { data?: { code?: string } }).data?.code).toBe('UNAUTHORIZED');
    expect(await history(chat)).toEqual([]);

    async function history(server: ChatServer): Promise<string[]> {
      const reader = client({ url: server.server.url });
      return (await reader.trpc.chat.history.query({ room: ROOM })).map((m) => m.text);
    }
  });
});
