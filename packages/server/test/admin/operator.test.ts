/**
 * What an operator finds on the admin page's server side, cluster-wide over
 * a shared broker: connections by display name (`admin.displayName`), user
 * key or id prefix, WebSockets and HTTP event streams alike, with their
 * transport and bytes in and out; a channel's detail (subscribers per node, its connections,
 * presence members, newest messages); the event log of connects, refusals
 * by reason and revocations, collected from every node; bytes per node.
 * The page in a browser: packages/admin-ui/test/operator.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { memoryBroker, type AdminEvent, type ClusterView } from '@herald/server';
import {
  Cleanup,
  FAST_BACKOFF,
  nextState,
  numbersClient,
  recordChannel,
  startAdminNode,
  subscribeNumbers,
  trpcErrorOf,
  watchAdminCluster,
  type NumbersRouter,
} from '@herald/test-kit';

const TOKEN = 'admin-operator-token-0123456789';

/** Users sign in with a key; the app's context carries it, and the page shows their full name and finds it. */
const NAMES: Record<string, string> = { u_ada: 'Ada Lovelace', u_grace: 'Grace Hopper' };

/** Two nodes on one memory broker, and an admin client on node one that has seen both. */
async function twoNodes(cleanup: Cleanup) {
  const broker = memoryBroker();
  cleanup.defer(() => broker.close());
  const start = (nodeId: string) => startAdminNode({ nodeId, token: TOKEN, broker, closesBroker: false, intervalMs: 200, displayNames: NAMES, refusedUser: 'refused' });
  const one = cleanup.add(await start('node-one'));
  const two = cleanup.add(await start('node-two'));
  const watch = watchAdminCluster(one.server, TOKEN);
  cleanup.add(watch.client);
  cleanup.defer(watch.stop);
  await watch.until((view) => view.nodes.length === 2, 'both nodes');
  return { one, two, admin: watch.client, until: watch.until };
}

/** A client subscribed to `stream` and live: over a WebSocket (`numbersClient`) or, with `http`, as an HTTP event stream. */
async function liveSubscriber(cleanup: Cleanup, url: string, name: string, stream: string, http = false) {
  const client = cleanup.add(
    http
      ? createHeraldClient<NumbersRouter>({ url, transport: 'http', http: httpTransport, connectionParams: { name }, backoff: FAST_BACKOFF })
      : numbersClient('herald', url, { name }),
  );
  const subscription = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream }, handlers));
  cleanup.defer(() => subscription.unsubscribe());
  await subscription.waitForLive();
  return { client, subscription };
}

const hasEvent = (view: ClusterView, wanted: Partial<AdminEvent>) =>
  view.events.some((event) => Object.entries(wanted).every(([field, value]) => event[field as keyof AdminEvent] === value));

describe('admin page: what an operator finds', () => {
  it('finds connections by display name, user key or id prefix on every node, WebSockets and event streams, with transport and bytes', async () => {
    await using cleanup = new Cleanup();
    const { one, two, admin, until } = await twoNodes(cleanup);

    const ada = cleanup.add(numbersClient('herald', two.server.url, { name: 'u_ada' }));
    const adaStream = subscribeNumbers(ada, 'room');
    cleanup.defer(() => adaStream.unsubscribe());
    await adaStream.waitForLive();
    // Grace over HTTP: her subscription is an event stream on node one.
    await liveSubscriber(cleanup, one.server.url, 'u_grace', 'room', true);
    await ada.trpc.publish.mutate({ stream: 'room', n: 1 });
    await adaStream.waitForMessages(1);

    const byName = await admin.trpc.lookup.query({ query: 'lovelace' });
    expect(byName).toHaveLength(1);
    expect(byName[0]).toMatchObject({ nodeId: 'node-two', transport: 'websocket', userKey: 'u_ada', displayName: 'Ada Lovelace', subscriptions: ['numbers'] });
    expect(byName[0]?.bytesIn).toBeGreaterThan(0);
    expect(byName[0]?.bytesOut).toBeGreaterThan(0);
    const streams = await admin.trpc.lookup.query({ query: 'GRACE' });
    expect(streams).toHaveLength(1);
    expect(streams[0]).toMatchObject({ nodeId: 'node-one', transport: 'http-stream', userKey: 'u_grace', displayName: 'Grace Hopper', address: '127.0.0.1' });
    expect(streams[0]?.connectionId).toMatch(/^h\d+$/);
    expect(streams[0]?.bytesOut).toBeGreaterThan(0);
    // By user key prefix, and by id prefix on one node.
    expect((await admin.trpc.lookup.query({ query: 'u_' })).map((found) => found.userKey).sort()).toEqual(['u_ada', 'u_grace']);
    expect((await admin.trpc.lookup.query({ query: 'node-one/h' })).map((found) => found.userKey)).toEqual(['u_grace']);

    // Bytes per node, per second of an interval: watched from before node two sends Ada's next message.
    const withBytes = until((view) => (view.nodes.find((node) => node.nodeId === 'node-two')?.bytesOutPerSecond ?? 0) > 0, 'bytes on node two');
    await ada.trpc.publish.mutate({ stream: 'room', n: 2 });
    expect((await withBytes).totals.rates.bytesOut).toBeGreaterThan(0);
  });

  it("shows a channel's subscribers per node, its members and its newest messages, and refuses a name that is not a topic", async () => {
    await using cleanup = new Cleanup();
    const { one, two, admin } = await twoNodes(cleanup);
    const subscriptions = [];
    for (const [server, name] of [
      [one.server, 'u_ada'],
      [two.server, 'u_grace'],
      [two.server, 'u_other'],
    ] as const) {
      const client = cleanup.add(numbersClient('herald', server.url, { name }));
      const subscription = subscribeNumbers(client, 'lobby');
      cleanup.defer(() => subscription.unsubscribe());
      subscriptions.push(subscription);
      await subscription.waitForLive();
    }
    const publisher = cleanup.add(numbersClient('herald', one.server.url, { name: 'u_ada' }));
    for (let n = 1; n <= 25; n++) await publisher.trpc.publish.mutate({ stream: 'lobby', n });

    const detail = await admin.trpc.channel.query({ topic: 'numbers:lobby' });
    expect(detail.subscribersByNode).toEqual([
      { nodeId: 'node-one', subscribers: 1 },
      { nodeId: 'node-two', subscribers: 2 },
    ]);
    expect(detail.memberCount).toBe(3);
    expect(detail.members.map((member) => member.info).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
      { name: 'u_ada' },
      { name: 'u_grace' },
      { name: 'u_other' },
    ]);
    // The newest 20 of 25, oldest first.
    expect(detail.lastMessages?.map((message) => (message.message as { n: number }).n)).toEqual(Array.from({ length: 20 }, (_, i) => i + 6));
    expect(detail.lastMessages?.[0]?.publishedAt).toBeGreaterThan(0);
    expect(detail.historyLength).toBe(25);

    const unknown = await admin.trpc.channel.query({ topic: 'nothing:here' });
    expect(unknown).toMatchObject({ subscribersByNode: [{ nodeId: 'node-one', subscribers: 0 }, { nodeId: 'node-two', subscribers: 0 }], memberCount: 0, lastMessages: null });
    const refused = await trpcErrorOf(admin.trpc.channel.query({ topic: 'no topic' }));
    expect(refused.data?.code).toBe('BAD_REQUEST');
    expect(refused.message).toMatch(/<channel>:<key>/);
  });

  it("lists a channel's connections on every node, WebSockets and event streams, with the fields of a node's browse", async () => {
    await using cleanup = new Cleanup();
    const { one, two, admin } = await twoNodes(cleanup);
    // Ada on node two over a WebSocket, Grace on node one over an event stream, both in the lobby; Ada's second socket watches another room.
    await liveSubscriber(cleanup, two.server.url, 'u_ada', 'lobby');
    await liveSubscriber(cleanup, two.server.url, 'u_ada', 'kitchen');
    await liveSubscriber(cleanup, one.server.url, 'u_grace', 'lobby', true);

    const detail = await admin.trpc.channel.query({ topic: 'numbers:lobby' });
    expect(detail.connections).toHaveLength(2);
    expect(detail.connections[0]).toMatchObject({
      nodeId: 'node-one',
      transport: 'http-stream',
      userKey: 'u_grace',
      displayName: 'Grace Hopper',
      address: '127.0.0.1',
      subscriptions: ['numbers'],
      topics: ['numbers:lobby'],
    });
    expect(detail.connections[1]).toMatchObject({
      nodeId: 'node-two',
      transport: 'websocket',
      userKey: 'u_ada',
      displayName: 'Ada Lovelace',
      address: '127.0.0.1',
      subscriptions: ['numbers'],
      topics: ['numbers:lobby'],
    });
    for (const connection of detail.connections) {
      expect(connection.connectedAt).toBeGreaterThan(0);
      expect(connection.bytesOut).toBeGreaterThan(0);
    }
    expect(detail.unlistedSubscribers).toBe(0);
    const other = await admin.trpc.channel.query({ topic: 'numbers:kitchen' });
    expect(other.connections.map((connection) => `${connection.nodeId} ${connection.userKey} ${connection.topics.join()}`)).toEqual(['node-two u_ada numbers:kitchen']);

  });

  it("bounds a channel's connections to 50 per node and counts the subscribers it leaves out", async () => {
    await using cleanup = new Cleanup();
    const { one, two, admin } = await twoNodes(cleanup);
    await Promise.all(Array.from({ length: 51 }, (_, i) => liveSubscriber(cleanup, one.server.url, `u_many${i}`, 'crowd')));
    await liveSubscriber(cleanup, two.server.url, 'u_ada', 'crowd');

    const detail = await admin.trpc.channel.query({ topic: 'numbers:crowd' });
    expect(detail.subscribersByNode).toEqual([
      { nodeId: 'node-one', subscribers: 51 },
      { nodeId: 'node-two', subscribers: 1 },
    ]);
    expect(detail.connections.filter((connection) => connection.nodeId === 'node-one')).toHaveLength(50);
    expect(detail.connections.filter((connection) => connection.nodeId === 'node-two').map((connection) => connection.userKey)).toEqual(['u_ada']);
    expect(detail.unlistedSubscribers).toBe(1);
  });

  it('logs connects, refusals by reason and revocations of every node, newest first', async () => {
    await using cleanup = new Cleanup();
    const { one, two, admin, until } = await twoNodes(cleanup);

    const ada = cleanup.add(numbersClient('herald', two.server.url, { name: 'u_ada' }));
    const subscription = subscribeNumbers(ada, 'room');
    cleanup.defer(() => subscription.unsubscribe());
    await subscription.waitForLive();
    const refused = cleanup.add(numbersClient('herald', one.server.url, { name: 'refused' }));
    const closed = nextState(refused, 'closed');
    void refused.trpc.publish.mutate({ stream: 'room', n: 1 }).catch(() => undefined);
    await closed;
    const connected = await until((view) => hasEvent(view, { kind: 'connect', nodeId: 'node-two', userKey: 'u_ada' }), 'a connect on node two');
    expect(connected.events.find((event) => event.kind === 'connect' && event.userKey === 'u_ada')).toMatchObject({ transport: 'websocket', address: '127.0.0.1' });
    await until((view) => hasEvent(view, { kind: 'refusal', nodeId: 'node-one', reason: 'unauthorized' }), 'a refusal on node one');

    const reconnecting = nextState(ada, 'reconnecting');
    await admin.trpc.revoke.mutate({ userKey: 'u_ada', reason: 'operator test' });
    await reconnecting;
    const revoked = await until((view) => hasEvent(view, { kind: 'revocation', nodeId: 'node-two', userKey: 'u_ada' }), 'a revocation on node two');
    const times = revoked.events.map((event) => event.at);
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(revoked.eventsLost).toBe(0);
  });
});
