/**
 * The admin page's server side (`admin` option): its router refuses every
 * caller without the token, from any origin, on the socket and over HTTP;
 * with it, the `cluster` stream shows every node sharing the broker and
 * forgets a stopped one; lookup and revoke reach connections on any node.
 * The page in a browser: packages/admin-ui/test/adminPage.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createHeraldServer, memoryBroker, type ClusterView, type HeraldServer } from '@herald/server';
import {
  Cleanup,
  createNumbersApp,
  errorCodeOf,
  nextState,
  numbersClient,
  rawSocket,
  served,
  startAdminNode,
  subscribeNumbers,
  tokenCheck,
  trpcErrorOf,
  watchAdminCluster,
  type RawFrame,
} from '@herald/test-kit';

const TOKEN = 'admin-test-token-0123456789';

const sameToken = tokenCheck(TOKEN);

/** A node of the numbers app with the admin page on; the memory broker may be shared by both nodes: closing a node closes its server only. */
const startNode = (broker: ReturnType<typeof memoryBroker>, nodeId: string, extra: { allowedOrigins?: readonly string[] } = {}) =>
  startAdminNode({ nodeId, token: TOKEN, broker, closesBroker: false, intervalMs: 200, ...extra });

const adminUrl = (server: HeraldServer) => `${server.url.replace(/\/ws$/, '')}/admin/ws`;

describe('admin page: refusals', () => {
  it.each([
    ['no origin', undefined],
    ['its own origin', 'same'],
    ['a foreign origin', 'https://evil.example'],
  ])('refuses the admin socket without a token, and with a wrong one, from %s', async (_label, origin) => {
    await using cleanup = new Cleanup();
    const node = cleanup.add(await startNode(memoryBroker(), 'n1', { allowedOrigins: ['*'] }));
    const headers = origin === undefined ? undefined : { origin: origin === 'same' ? node.server.httpUrl : origin };
    for (const params of [undefined, { token: 'wrong' }, { token: '' }]) {
      const socket = rawSocket(adminUrl(node.server), { ...(headers ? { headers } : {}), ...(params ? { params } : {}) });
      cleanup.defer(() => socket.socket.terminate());
      await socket.opened;
      socket.socket.send(JSON.stringify({ id: 1, method: 'query', params: { path: 'lookup', input: { query: 'c1' } } }));
      const refusal = await socket.frame<RawFrame>((frame) => errorCodeOf(frame) !== undefined, 5_000, 'the refusal');
      expect(errorCodeOf(refusal)).toBe('UNAUTHORIZED');
      expect((await socket.closed).code).toBe(4001);
    }
  });

  it('answers 401 over HTTP without a token, from any origin, and serves the figures with it', async () => {
    await using cleanup = new Cleanup();
    const node = cleanup.add(await startNode(memoryBroker(), 'n1'));
    const api = `${node.server.httpUrl}/admin/api/cluster`;
    const attempts: Record<string, string>[] = [{}, { origin: 'https://evil.example' }, { authorization: 'Bearer wrong' }, { authorization: 'Basic abc' }];
    for (const headers of attempts) {
      const response = await fetch(api, { headers });
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toBe('UNAUTHORIZED');
    }
    const ok = await fetch(api, { headers: { authorization: `Bearer ${TOKEN}`, origin: 'https://evil.example' } });
    expect(ok.status).toBe(200);
    const view = (await ok.json()) as ClusterView;
    expect(view.nodes.map((n) => n.nodeId)).toEqual(['n1']);
  });

  it('refuses to start with an admin option it cannot use, saying what to pass', async () => {
    const app = createNumbersApp();
    const base = { router: app.router, herald: app.herald, port: 0, host: '127.0.0.1', createContext: () => ({ name: null }) };
    await expect(createHeraldServer({ ...base, admin: {} as never })).rejects.toThrow(/admin needs authenticate/);
    await expect(createHeraldServer({ ...base, admin: { authenticate: sameToken, path: 'admin' } })).rejects.toThrow(/admin.path must be a path/);
    await expect(createHeraldServer({ ...base, admin: { authenticate: sameToken, intervalMs: 5 } })).rejects.toThrow(/admin.intervalMs/);
    await app.herald.close();
  });

  it('serves nothing under /admin and opens no admin socket when the option is off', async () => {
    await using cleanup = new Cleanup();
    const app = createNumbersApp();
    const server = await createHeraldServer({ router: app.router, herald: app.herald, port: 0, host: '127.0.0.1', createContext: () => ({ name: null }) });
    cleanup.add(served(app, server));
    expect((await fetch(`${server.httpUrl}/admin/`)).status).toBe(404);
    expect((await fetch(`${server.httpUrl}/admin/api/cluster`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    const socket = rawSocket(adminUrl(server), { params: { token: TOKEN } });
    await expect(socket.opened).rejects.toThrow(/404/);
  });
});

describe('admin page: the cluster', () => {
  it('shows every node sharing the broker, their connections and busiest channel, and forgets a stopped node', async () => {
    await using cleanup = new Cleanup();
    const broker = memoryBroker();
    cleanup.defer(() => broker.close());
    const one = cleanup.add(await startNode(broker, 'node-one'));
    const two = cleanup.add(await startNode(broker, 'node-two'));
    // 3 subscribers of `busy` on node one, 2 on node two; one of `quiet`.
    const subscriptions = [];
    for (const [server, stream] of [
      [one.server, 'busy'],
      [one.server, 'busy'],
      [one.server, 'busy'],
      [two.server, 'busy'],
      [two.server, 'busy'],
      [two.server, 'quiet'],
    ] as const) {
      const client = cleanup.add(numbersClient('herald', server.url, { name: `user-${subscriptions.length}` }));
      const subscription = subscribeNumbers(client, stream);
      cleanup.defer(() => subscription.unsubscribe());
      subscriptions.push(subscription);
    }
    await Promise.all(subscriptions.map((s) => s.waitForLive()));

    const { client, until, stop } = watchAdminCluster(one.server, TOKEN);
    cleanup.add(client);
    cleanup.defer(stop);
    const full = await until(
      (view) => view.nodes.length === 2 && view.totals.connections === 6 && view.channelsBySubscribers[0]?.subscribers === 5,
      'both nodes, 6 connections and busy with 5 subscribers',
    );
    expect(full.nodes.map((n) => n.nodeId)).toEqual(['node-one', 'node-two']);
    expect(full.channelsBySubscribers.map((c) => [c.topic, c.subscribers])).toEqual([
      ['numbers:busy', 5],
      ['numbers:quiet', 1],
    ]);
    expect(full.channelsBySubscribers[0]?.presence).toBe(5);

    await two.close();
    const after = await until((view) => view.nodes.length === 1, 'node two gone');
    expect(after.nodes.map((n) => n.nodeId)).toEqual(['node-one']);
  });

  it('looks a user up on every node and revokes her sessions', async () => {
    await using cleanup = new Cleanup();
    const broker = memoryBroker();
    cleanup.defer(() => broker.close());
    const one = cleanup.add(await startNode(broker, 'node-one'));
    const two = cleanup.add(await startNode(broker, 'node-two'));
    const { client: admin, until, stop } = watchAdminCluster(one.server, TOKEN);
    cleanup.add(admin);
    cleanup.defer(stop);
    await until((view) => view.nodes.length === 2, 'both nodes');
    expect(await admin.trpc.lookup.query({ query: 'ann' })).toEqual([]);
    const user = cleanup.add(numbersClient('herald', two.server.url, { name: 'ann' }));
    const subscription = subscribeNumbers(user, 'room');
    cleanup.defer(() => subscription.unsubscribe());
    await subscription.waitForLive();
    const byId = await admin.trpc.lookup.query({ query: 'node-two/c1' });
    expect(byId).toHaveLength(1);
    expect(byId[0]).toMatchObject({ nodeId: 'node-two', connectionId: 'c1', address: '127.0.0.1', subscriptions: ['numbers'] });
    expect(byId[0]?.connectedAt).toBeGreaterThan(0);
    expect(await admin.trpc.lookup.query({ query: 'ann' })).toEqual(byId);
    expect((await trpcErrorOf(admin.trpc.lookup.query({ query: ' ' }))).data?.code).toBe('BAD_REQUEST');

    // Revoked from node one's admin page, her socket on node two closes (and her client reconnects).
    const reconnecting = nextState(user, 'reconnecting');
    await admin.trpc.revoke.mutate({ userKey: 'ann' });
    await reconnecting;
  });

  it('keeps the samples of the last 15 minutes for the charts, across nodes, oldest first', async () => {
    await using cleanup = new Cleanup();
    const broker = memoryBroker();
    cleanup.defer(() => broker.close());
    const one = cleanup.add(await startNode(broker, 'node-one'));
    const { client: admin, until, stop } = watchAdminCluster(one.server, TOKEN);
    cleanup.add(admin);
    cleanup.defer(stop);
    const user = cleanup.add(numbersClient('herald', one.server.url, { name: 'ann' }));
    const subscription = subscribeNumbers(user, 'room');
    cleanup.defer(() => subscription.unsubscribe());
    await subscription.waitForLive();
    // The admin page's own socket is not counted.
    await until((view) => view.totals.connections === 1, 'the user connected');
    const samples = await admin.trpc.history.query();
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.map((sample) => sample.at)).toEqual([...samples.map((sample) => sample.at)].sort((a, b) => a - b));
    const last = samples.at(-1);
    expect(last?.connections).toBe(1);
    expect(last?.rssBytes).toBeGreaterThan(0);
    expect(last?.eventLoopDelayP99Ms).toBeGreaterThanOrEqual(0);
  });
});
