/**
 * Several Herald processes on one Redis (and on a Redis Cluster) behave as one server: real node
 * processes (the kit's startNodes), real clients of both kinds, SIGKILLed
 * nodes, a Redis that dies and comes back empty, and HAProxy in front.
 * Everything talks to 127.0.0.1 only; every wait and loop is bounded.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { heraldCodeOf } from '@herald/shared';
import { redisTargets } from './helpers/redisTargets.js';
import {
  Cleanup,
  CLIENT_KINDS,
  findTool,
  getHealth,
  holdsUntil,
  IN_CI,
  numbersClient,
  pollUntil,
  recordStatuses,
  startHaproxy,
  startNodes,
  startRedisServer,
  subscribeNumbers,
  subscribePresence,
  testPrefix,
  toolOrFail,
  withTimeout,
  type ClientKind,
  type HeraldNode,
  type NumbersClient,
  type NumbersSubscription,
} from '@herald/test-kit';

const STREAM = 'cluster';
type Client = NumbersClient;

const cleanup = new Cleanup();
let prefix: string;
beforeEach(() => {
  prefix = testPrefix();
});
afterEach(() => cleanup.run());

/** Orders stream ids `<ms>-<seq>`. */
function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Attempt {
  readonly n: number;
  readonly startedAt: number;
  settledAt: number;
  outcome: 'pending' | 'resolved' | 'rejected' | 'hung';
  id: string | null;
  error: unknown;
}

/**
 * Publishes `n = first, first + 1, ...` one at a time through `client`,
 * recording every attempt, until `max` attempts, `stop()` or `deadlineMs`.
 * `paceMs` spaces attempts out (a load shape, not a wait for an assertion).
 */
function publishLoop(
  client: Client,
  options: { first: number; max: number; paceMs: number; deadlineMs: number; stop?: () => boolean },
): { readonly attempts: Attempt[]; readonly done: Promise<void> } {
  const attempts: Attempt[] = [];
  const deadline = Date.now() + options.deadlineMs;
  const done = (async () => {
    for (let i = 0; i < options.max && !options.stop?.() && Date.now() < deadline; i++) {
      const attempt: Attempt = { n: options.first + i, startedAt: Date.now(), settledAt: 0, outcome: 'pending', id: null, error: null };
      attempts.push(attempt);
      try {
        attempt.id = await withTimeout(client.trpc.publish.mutate({ stream: STREAM, n: attempt.n }), 5_000, `publish ${attempt.n}`);
        attempt.outcome = 'resolved';
      } catch (error) {
        attempt.error = error;
        attempt.outcome = error instanceof TRPCClientError ? 'rejected' : 'hung';
      }
      attempt.settledAt = Date.now();
      if (options.paceMs > 0) await pause(options.paceMs);
    }
  })();
  return { attempts, done };
}

const messageIds = (subscription: NumbersSubscription) =>
  subscription.events.flatMap(({ id, event }) => (event.type === 'message' ? [id] : []));
const gapsOf = (subscription: NumbersSubscription) =>
  subscription.events.flatMap(({ event }) => (event.type === 'gap' ? [event.reason] : []));

function expectIncreasing(ids: readonly string[]): void {
  for (let i = 1; i < ids.length; i++) {
    if (compareIds(ids[i - 1] as string, ids[i] as string) >= 0) {
      throw new Error(`ids not strictly increasing at ${i}: ${ids[i - 1]} then ${ids[i]}`);
    }
  }
}

// On one Redis and on a Redis Cluster this file starts (helpers/redisTargets.ts).
describe.each(await redisTargets())('several nodes on $name', (target) => {
  beforeEach(() => {
    // Registered first, so it runs last: after the nodes are gone.
    cleanup.defer(() => target.deletePrefix(prefix));
  });

  it('three nodes: every subscriber on every node gets every message once, all in one order', async () => {
    const started = Date.now();
    const nodes = await startNodes(cleanup, 3, { redisUrl: target.nodeUrl(), prefix });
    // Two subscribers per node, one of each client kind.
    const subscribers = nodes.flatMap((node) =>
      CLIENT_KINDS.map((kind) => {
        const client = cleanup.add(numbersClient(kind, node.url));
        return { node, kind, client, subscription: subscribeNumbers(client, STREAM) };
      }),
    );
    await Promise.all(subscribers.map((s) => s.subscription.waitForLive(1, 10_000)));
    for (const s of subscribers) expect((await s.client.trpc.node.query()).nodeId).toBe(s.node.nodeId);

    // One publisher per node, all three at once.
    const perPublisher = 300;
    const publishers = nodes.map((node, i) =>
      publishLoop(cleanup.add(numbersClient('stock', node.url)), { first: i * 10_000, max: perPublisher, paceMs: 0, deadlineMs: 20_000 }),
    );
    const publishStarted = Date.now();
    await Promise.all(publishers.map((p) => p.done));
    const publishMs = Date.now() - publishStarted;
    const attempts = publishers.flatMap((p) => p.attempts);
    expect(attempts.filter((a) => a.outcome === 'resolved')).toHaveLength(3 * perPublisher);

    // The one order: the ids the broker acknowledged, sorted.
    const expected = [...attempts].sort((a, b) => compareIds(a.id as string, b.id as string));
    const total = expected.length;
    await Promise.all(subscribers.map((s) => s.subscription.waitForMessages(total, 15_000)));
    const deliveredMs = Date.now() - publishStarted;

    for (const { subscription, kind, node } of subscribers) {
      const label = `${kind} subscriber on ${node.nodeId}`;
      expect(subscription.numbers(), label).toEqual(expected.map((a) => a.n));
      expect(messageIds(subscription), label).toEqual(expected.map((a) => a.id));
      expect(gapsOf(subscription), label).toEqual([]);
      expect(subscription.errors, label).toEqual([]);
    }
    // Each publisher awaited each publish, so its own messages keep its order within the global one.
    for (const publisher of publishers) {
      const mine = new Set(publisher.attempts.map((a) => a.n));
      expect(expected.map((a) => a.n).filter((n) => mine.has(n))).toEqual(publisher.attempts.map((a) => a.n));
    }
    // The messages really came from all three nodes interleaved, not one after another.
    const sources = expected.map((a) => Math.floor(a.n / 10_000));
    const switches = sources.filter((source, i) => i > 0 && source !== sources[i - 1]).length;
    expect(switches).toBeGreaterThan(3);
    console.log(
      `[cluster] 3 nodes, 6 subscribers, ${total} messages: published in ${publishMs} ms, all delivered after ${deliveredMs} ms ` +
        `(test ${Date.now() - started} ms)`,
    );
  });

  it('a SIGKILLed node: its Herald clients fail over to the others and resume with no loss, no duplicate, no gap', async () => {
    const started = Date.now();
    const nodes = await startNodes(cleanup, 3, { redisUrl: target.nodeUrl(), prefix });
    const [nodeA, nodeB, victim] = nodes as [HeraldNode, HeraldNode, HeraldNode];
    const allUrls = nodes.map((node) => node.url);

    // Herald clients with all three URLs start at a random one: make them
    // until two sit on the victim (bounded; about six on average).
    const heralds: { client: Client; nodeId: string; subscription: NumbersSubscription; statuses: ReturnType<typeof recordStatuses> }[] = [];
    for (let i = 0; i < 40 && heralds.filter((h) => h.nodeId === victim.nodeId).length < 2; i++) {
      const client = cleanup.add(numbersClient('herald', allUrls));
      const { nodeId } = await client.trpc.node.query();
      const statuses = recordStatuses(client);
      heralds.push({ client, nodeId, subscription: subscribeNumbers(client, STREAM), statuses });
    }
    const onVictim = heralds.filter((h) => h.nodeId === victim.nodeId);
    expect(onVictim).toHaveLength(2);
    // A stock client on a survivor, as a reference.
    const reference = subscribeNumbers(cleanup.add(numbersClient('stock', nodeA.url)), STREAM);
    const everyone = [...heralds.map((h) => h.subscription), reference];
    await Promise.all(everyone.map((s) => s.waitForLive(1, 10_000)));

    // Publishers on the two survivors, paced so the kill lands mid-stream.
    const perPublisher = 400;
    const publishers = [nodeA, nodeB].map((node, i) =>
      publishLoop(cleanup.add(numbersClient('stock', node.url)), { first: i * 10_000, max: perPublisher, paceMs: 2, deadlineMs: 20_000 }),
    );
    await Promise.all(onVictim.map((h) => h.subscription.waitForMessages(50, 10_000)));
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    // Each of its clients reconnects elsewhere and resubscribes (its second live marker).
    await Promise.all(onVictim.map((h) => h.subscription.waitForLive(2, 10_000)));
    const failoverMs = Date.now() - killedAt;
    const ackedAtFailover = publishers.reduce((sum, p) => sum + p.attempts.filter((a) => a.outcome === 'resolved').length, 0);
    await Promise.all(publishers.map((p) => p.done));
    expect(ackedAtFailover).toBeLessThan(2 * perPublisher - 100); // the kill and the failover were mid-stream

    const attempts = publishers.flatMap((p) => p.attempts);
    expect(attempts.filter((a) => a.outcome !== 'resolved')).toEqual([]);
    const expected = [...attempts].sort((a, b) => compareIds(a.id as string, b.id as string));
    await Promise.all(everyone.map((s) => s.waitForMessages(expected.length, 15_000)));
    const recoveredMs = Date.now() - killedAt;

    for (const [i, subscription] of everyone.entries()) {
      const label = i < heralds.length ? `herald client ${i} (was on ${heralds[i]?.nodeId})` : 'stock reference';
      expect(subscription.numbers(), label).toEqual(expected.map((a) => a.n));
      expect(messageIds(subscription), label).toEqual(expected.map((a) => a.id));
      expect(gapsOf(subscription), label).toEqual([]);
      expect(subscription.errors, label).toEqual([]);
    }
    for (const h of onVictim) {
      // It lost its socket, reconnected elsewhere and resubscribed (a second live marker).
      expect(h.statuses.statuses).toContain('reconnecting');
      expect(h.client.connection?.current).toMatchObject({ status: 'open' });
      const now = await h.client.trpc.node.query();
      expect([nodeA.nodeId, nodeB.nodeId]).toContain(now.nodeId);
      expect(h.subscription.events.filter(({ event }) => event.type === 'live').length).toBeGreaterThanOrEqual(2);
    }
    console.log(
      `[cluster] failover: ${onVictim.length} of ${heralds.length} Herald clients on the killed node, ${expected.length} messages ` +
        `(${ackedAtFailover} acknowledged when they had failed over, ${failoverMs} ms after the kill), ` +
        `all delivered ${recoveredMs} ms after the kill (test ${Date.now() - started} ms)`,
    );
  });

  it('presence spans nodes, and a SIGKILLed node’s members leave within the presence TTL', async () => {
    const presenceTtlMs = 500;
    const marginMs = 1_500;
    const nodes = await startNodes(cleanup, 3, { redisUrl: target.nodeUrl(), prefix, presenceTtlMs });
    const [nodeA, nodeB, nodeC] = nodes as [HeraldNode, HeraldNode, HeraldNode];

    const watcher = subscribePresence(cleanup.add(numbersClient('herald', nodeA.url)), STREAM);
    await watcher.until((events) => events.some((e) => e.type === 'snapshot'), 10_000, 'presence snapshot');
    const ann = subscribeNumbers(cleanup.add(numbersClient('stock', nodeA.url, { name: 'ann' })), STREAM);
    const bob = subscribeNumbers(cleanup.add(numbersClient('stock', nodeB.url, { name: 'bob' })), STREAM);
    await Promise.all([ann.waitForLive(), bob.waitForLive()]);
    const annJoinedAt = Date.now();

    const observer = cleanup.add(numbersClient('herald', nodeC.url));
    const names = async () => (await observer.trpc.members.query({ stream: STREAM })).map((m) => m.info.name).sort();
    let members = await observer.trpc.members.query({ stream: STREAM });
    await pollUntil(async () => {
      members = await observer.trpc.members.query({ stream: STREAM });
      return members.length === 2;
    }, 'both members listed from node C');
    expect(members.map((m) => m.info.name).sort()).toEqual(['ann', 'bob']);
    const bobId = members.find((m) => m.info.name === 'bob')?.clientId;
    await watcher.until((events) => events.some((e) => e.type === 'join' && e.member.clientId === bobId), 5_000, "bob's join on node A");

    const killedAt = Date.now();
    await nodeB.kill('SIGKILL');
    await pollUntil(async () => (await names()).join() === 'ann', "bob's entry to expire", { timeoutMs: presenceTtlMs + marginMs });
    const goneMs = Date.now() - killedAt;
    await watcher.until(
      (events) => events.some((e) => e.type === 'leave' && e.clientId === bobId),
      presenceTtlMs + marginMs,
      "bob's leave at node A",
    );
    const leaveMs = Date.now() - killedAt;
    expect(goneMs).toBeLessThanOrEqual(presenceTtlMs + marginMs);
    expect(leaveMs).toBeLessThanOrEqual(presenceTtlMs + marginMs);
    // Ann's node keeps refreshing her entry: listed throughout three TTLs after she joined, and never left.
    await holdsUntil(async () => (await names()).join() === 'ann', annJoinedAt + 3 * presenceTtlMs, 'ann listed alone');
    expect(watcher.events.filter(({ event }) => event.type === 'leave')).toHaveLength(1);
    expect(watcher.errors).toEqual([]);
    console.log(`[cluster] presence: killed node's member gone from the list after ${goneMs} ms, leave event after ${leaveMs} ms (TTL ${presenceTtlMs} ms)`);
  });

  const haproxy = findTool('haproxy', 'the load balancer test');
  it.skipIf(!haproxy && !IN_CI)('behind HAProxy (deploy/haproxy.cfg): connections spread over the nodes, a publish reaches all', async () => {
    const haproxyPath = toolOrFail(haproxy, 'haproxy');
    const nodes = await startNodes(cleanup, 3, { redisUrl: target.nodeUrl(), prefix });
    const lb = await startHaproxy(cleanup, haproxyPath, nodes);

    // One at a time, so leastconn sees each connection before the next.
    const clients: { kind: ClientKind; client: Client; nodeId: string }[] = [];
    for (let i = 0; i < 6; i++) {
      const kind = CLIENT_KINDS[i % 2] as ClientKind;
      const client = cleanup.add(numbersClient(kind, lb.url));
      clients.push({ kind, client, nodeId: (await client.trpc.node.query()).nodeId });
    }
    const landedOn = new Set(clients.map((c) => c.nodeId));
    expect(landedOn.size).toBeGreaterThan(1);
    const counts = await Promise.all(nodes.map(async (node) => (await getHealth(node, '/healthz')).body.connections));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(6);
    expect(counts.filter((count) => count > 0).length).toBe(landedOn.size);

    const subscriptions = clients.map((c) => subscribeNumbers(c.client, STREAM));
    await Promise.all(subscriptions.map((s) => s.waitForLive(1, 10_000)));
    const ids: string[] = [];
    for (let n = 0; n < 10; n++) ids.push(await (clients[0] as (typeof clients)[number]).client.trpc.publish.mutate({ stream: STREAM, n }));
    await Promise.all(subscriptions.map((s) => s.waitForMessages(10, 10_000)));
    for (const subscription of subscriptions) {
      expect(subscription.numbers()).toEqual([...Array(10).keys()]);
      expect(messageIds(subscription)).toEqual(ids);
    }
    console.log(`[cluster] haproxy: 6 clients landed on ${landedOn.size} nodes (connections per node: ${counts.join(', ')})`);
  });
});

const redisServer = findTool('redis-server', 'the Redis restart test');
describe.skipIf(!redisServer && !IN_CI)('several nodes when their Redis dies and comes back empty', () => {
  it('nodes survive, fail fast and report unready while it is down, keep sockets, and recover', async () => {
    const started = Date.now();
    const redis = await startRedisServer(cleanup, toolOrFail(redisServer, 'redis-server'));
    const nodes = await startNodes(cleanup, 2, { redisUrl: redis.url, prefix });
    const [nodeA, nodeB] = nodes as [HeraldNode, HeraldNode];
    const subscribers = [
      { label: 'herald on A', subscription: subscribeNumbers(cleanup.add(numbersClient('herald', nodeA.url)), STREAM) },
      { label: 'stock on B', subscription: subscribeNumbers(cleanup.add(numbersClient('stock', nodeB.url)), STREAM) },
      { label: 'herald on B', subscription: subscribeNumbers(cleanup.add(numbersClient('herald', nodeB.url)), STREAM) },
    ];
    await Promise.all(subscribers.map((s) => s.subscription.waitForLive(1, 10_000)));

    let stop = false;
    const publishers = nodes.map((node, i) =>
      publishLoop(cleanup.add(numbersClient('stock', node.url)), {
        first: i * 100_000,
        max: 3_000,
        paceMs: 5,
        deadlineMs: 25_000,
        stop: () => stop,
      }),
    );
    cleanup.defer(async () => {
      stop = true;
      await Promise.all(publishers.map((p) => p.done));
    });
    await Promise.all(subscribers.map((s) => s.subscription.waitForMessages(20, 10_000)));
    const connectionsBefore = await Promise.all(nodes.map(async (node) => (await getHealth(node, '/healthz')).body.connections));
    expect(connectionsBefore).toEqual([2, 3]); // subscribers + one publisher each

    // Redis dies.
    await redis.kill();
    const redisGoneAt = Date.now();
    await pollUntil(async () => (await Promise.all(nodes.map((node) => getHealth(node, '/readyz')))).every((r) => r.status === 503), '/readyz to answer 503 on both nodes');
    // Redis stays down until each node has been refusing publishes for a second
    // (long enough for the nodes' reconnect attempts to back off).
    const refusingForMs = (p: (typeof publishers)[number]) => {
      const rejected = p.attempts.filter((a) => a.startedAt > redisGoneAt && a.outcome === 'rejected');
      return rejected.length < 2 ? 0 : (rejected.at(-1) as Attempt).settledAt - (rejected[0] as Attempt).startedAt;
    };
    await pollUntil(() => publishers.every((p) => refusingForMs(p) >= 1_000), 'publishes to be refused for 1 s on both nodes');
    expect(await Promise.all(nodes.map(async (node) => (await getHealth(node, '/readyz')).status))).toEqual([503, 503]);
    for (const node of nodes) {
      expect(node.running()).toBe(true);
      const health = await getHealth(node, '/healthz');
      expect(health.status).toBe(200);
    }
    expect(await Promise.all(nodes.map(async (node) => (await getHealth(node, '/healthz')).body.connections))).toEqual(connectionsBefore);

    // Redis comes back, empty.
    const restartAt = Date.now();
    await redis.start();
    const outageMs = Date.now() - redisGoneAt;
    await pollUntil(async () => (await Promise.all(nodes.map((node) => getHealth(node, '/readyz')))).every((r) => r.status === 200), '/readyz to answer 200 on both nodes again', { timeoutMs: 10_000 });
    const readyAgainMs = Date.now() - restartAt;
    const ackedAfterRestart = () =>
      publishers.map((p) => p.attempts.filter((a) => a.startedAt > redisGoneAt && a.outcome === 'resolved').length);
    await pollUntil(() => ackedAfterRestart().every((count) => count >= 30), '30 acknowledged publishes per node after the restart', { timeoutMs: 10_000 });
    stop = true;
    await Promise.all(publishers.map((p) => p.done));

    const attempts = publishers.flatMap((p) => p.attempts);
    const resolved = attempts.filter((a) => a.outcome === 'resolved');
    const rejected = attempts.filter((a) => a.outcome === 'rejected');
    // Every attempt settled one way or the other, none hung.
    expect(resolved.length + rejected.length).toBe(attempts.length);
    for (const attempt of rejected) {
      expect(heraldCodeOf(attempt.error), `publish ${attempt.n}`).toBe('BROKER_UNAVAILABLE');
      expect(attempt.settledAt - attempt.startedAt, `publish ${attempt.n} failed fast`).toBeLessThan(1_500);
    }
    const slowestRejectionMs = Math.max(...rejected.map((a) => a.settledAt - a.startedAt));

    // Every publish acknowledged by the new Redis reaches every subscriber, once.
    const mustArrive = resolved.filter((a) => a.startedAt > redisGoneAt).sort((a, b) => compareIds(a.id as string, b.id as string));
    const mustArriveIds = new Set(mustArrive.map((a) => a.id));
    for (const { label, subscription } of subscribers) {
      await subscription.until(
        () => messageIds(subscription).filter((id) => mustArriveIds.has(id)).length >= mustArrive.length,
        10_000,
        `${label}: every publish acknowledged after the restart`,
      );
    }
    const recoveredMs = Date.now() - restartAt;
    const attemptOf = new Map(attempts.map((a) => [a.n, a]));
    for (const { label, subscription } of subscribers) {
      const ids = messageIds(subscription);
      const numbers = subscription.numbers();
      expect(new Set(numbers).size, `${label}: no duplicates`).toBe(numbers.length);
      expect(() => expectIncreasing(ids), `${label}: one order`).not.toThrow();
      expect(ids.filter((id) => mustArriveIds.has(id)), label).toEqual(mustArrive.map((a) => a.id));
      // A publish that was rejected was not stored: it can only show up if it was in flight when Redis died.
      for (const n of numbers) {
        const attempt = attemptOf.get(n);
        if (attempt?.outcome !== 'resolved') expect(attempt?.startedAt, `${label}: rejected publish ${n} delivered`).toBeLessThanOrEqual(redisGoneAt);
      }
      // The lost history was announced, not skipped in silence.
      expect(gapsOf(subscription).length, `${label}: gap notice`).toBeGreaterThanOrEqual(1);
      for (const reason of gapsOf(subscription)) expect(['reset', 'expired']).toContain(reason);
      expect(subscription.errors, label).toEqual([]);
    }

    // No node died, and every WebSocket stayed up throughout.
    for (const node of nodes) expect(node.running(), node.output()).toBe(true);
    expect(await Promise.all(nodes.map(async (node) => (await getHealth(node, '/healthz')).body.connections))).toEqual(connectionsBefore);
    console.log(
      `[cluster] redis restart: outage ${outageMs} ms, ${rejected.length} publishes rejected (slowest ${slowestRejectionMs} ms), ` +
        `ready ${readyAgainMs} ms after the restart, all ${mustArrive.length} acknowledged publishes delivered ${recoveredMs} ms after it ` +
        `(test ${Date.now() - started} ms)`,
    );
  });
});
