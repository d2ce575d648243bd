/**
 * The Redis broker on a real local Redis Cluster (3 masters, a replica each):
 * topics spread over the shards and each publish reaches only its shard; a
 * master SIGKILLed mid-stream fails over to its replica while Herald nodes
 * publish and subscribe through it. The broker suite itself runs on a cluster
 * in redisBroker.test.ts. 127.0.0.1 only; every wait and loop is bounded.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { heraldCodeOf } from '@herald/shared';
import { redisBroker } from '@herald/server/redis';
import type { Broker } from '@herald/server';
import {
  Cleanup,
  findTool,
  IN_CI,
  numbersClient,
  pollUntil,
  startNumbersServer,
  startRedisCluster,
  subscribeNumbers,
  testPrefix,
  toolOrFail,
  withTimeout,
  type NumbersClient,
  type NumbersSubscription,
  type RedisCluster,
} from '@herald/test-kit';

const redisServer = findTool('redis-server', 'the Redis Cluster tests');
const redisCli = findTool('redis-cli', 'the Redis Cluster tests');

function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

const messageIds = (subscription: NumbersSubscription) => subscription.events.flatMap(({ id, event }) => (event.type === 'message' ? [id] : []));
const gapsOf = (subscription: NumbersSubscription) => subscription.events.flatMap(({ event }) => (event.type === 'gap' ? [event.reason] : []));
const liveMarkers = (subscription: NumbersSubscription) => subscription.events.filter(({ event }) => event.type === 'live').length;

interface Attempt {
  readonly n: number;
  readonly startedAt: number;
  settledAt: number;
  outcome: 'pending' | 'resolved' | 'rejected';
  id: string | null;
  error: unknown;
}

/** Publishes n = first, first + 1, ... on `stream` one at a time until `stop()`, at most `max`, recording each attempt. */
function publishLoop(client: NumbersClient, stream: string, options: { first: number; max: number; paceMs: number; stop: () => boolean }) {
  const attempts: Attempt[] = [];
  const done = (async () => {
    for (let i = 0; i < options.max && !options.stop(); i++) {
      const attempt: Attempt = { n: options.first + i, startedAt: Date.now(), settledAt: 0, outcome: 'pending', id: null, error: null };
      attempts.push(attempt);
      try {
        attempt.id = await withTimeout(client.trpc.publish.mutate({ stream, n: attempt.n }), 10_000, `publish ${attempt.n}`);
        attempt.outcome = 'resolved';
      } catch (error) {
        attempt.error = error;
        attempt.outcome = 'rejected';
      }
      attempt.settledAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, options.paceMs)); // a load shape, not a wait for an assertion
    }
  })();
  return { attempts, done };
}

describe.skipIf(!IN_CI && (!redisServer || !redisCli))('redis broker on a Redis Cluster', () => {
  const fileCleanup = new Cleanup();
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(fileCleanup, { redisServer: toolOrFail(redisServer, 'redis-server'), redisCli: toolOrFail(redisCli, 'redis-cli') });
  }, 30_000);
  afterAll(() => fileCleanup.run());
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('refuses a prefix with a brace, which would become every key\'s hash tag', () => {
    expect(() => redisBroker({ clusterUrls: cluster.urls, prefix: 'app{1}' })).toThrow(/prefix 'app\{1\}' has a brace.*without \{ or \}/);
  });

  it('spreads topics over every shard, and a publish reaches only the shard that owns its topic', async () => {
    const prefix = testPrefix();
    const broker: Broker = cleanup.add(redisBroker({ clusterUrls: cluster.urls, prefix }));
    const retention = { size: 10, ttlMs: 60_000 };
    const topics = Array.from({ length: 60 }, (_, i) => `room-${i}`);
    const received = new Map<string, number>();
    for (const topic of topics) {
      await broker.subscribe(topic, { onEntry: () => received.set(topic, (received.get(topic) ?? 0) + 1), onInterrupted: () => {} });
    }
    const masters = await cluster.masters();
    for (const port of masters) await cluster.command(port, 'CONFIG', 'RESETSTAT');
    for (const topic of topics) await broker.publish(topic, 'hello', retention);
    await pollUntil(() => topics.every((topic) => received.get(topic) === 1), 'every topic delivered once');

    const perMaster = await Promise.all(
      masters.map(async (port) => {
        const [, streams] = (await cluster.command(port, 'SCAN', 0, 'MATCH', `${prefix}:s:*`, 'COUNT', 10_000)) as [string, string[]];
        const channels = (await cluster.command(port, 'PUBSUB', 'SHARDCHANNELS', `${prefix}:*`)) as string[];
        const stats = String(await cluster.command(port, 'INFO', 'commandstats'));
        const spublishes = Number(/cmdstat_spublish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
        const topicOf = (key: string) => key.slice(key.indexOf('{') + 1, key.lastIndexOf('}'));
        return { port, streams: streams.map(topicOf).sort(), channels: channels.map(topicOf).sort(), spublishes };
      }),
    );
    // Every master holds some of the 60 topics, and together they hold each once.
    for (const master of perMaster) expect(master.streams.length, `streams on ${master.port}`).toBeGreaterThan(0);
    expect(perMaster.flatMap((master) => master.streams).sort()).toEqual([...topics].sort());
    for (const master of perMaster) {
      // This node subscribed to each topic on the master that stores it, and nowhere else...
      expect(master.channels, `shard channels on ${master.port}`).toEqual(master.streams);
      // ...and each master published exactly the messages of its own topics.
      expect(master.spublishes, `SPUBLISH calls on ${master.port}`).toBe(master.streams.length);
    }
    console.log(`[redis cluster] 60 topics over ${masters.length} masters: ${perMaster.map((m) => m.streams.length).join(' / ')}`);
    await cluster.deletePrefix(prefix);
  });

  it('a manual failover (CLUSTER FAILOVER on the replica): live delivery follows the slot, resumes from before it get a reset gap, nothing twice', async () => {
    const prefix = testPrefix();
    const retention = { size: 1_000, ttlMs: 60_000 };
    const topic = 'handover';
    const publisher = cleanup.add(redisBroker({ clusterUrls: cluster.urls, prefix }));
    const subscriber = cleanup.add(redisBroker({ clusterUrls: cluster.urls, prefix }));
    const received: string[] = [];
    let interruptions = 0;
    await subscriber.subscribe(topic, { onEntry: (entry) => received.push(entry.id), onInterrupted: () => interruptions++ });
    const before: string[] = [];
    for (let i = 0; i < 5; i++) before.push(await publisher.publish(topic, `before-${i}`, retention));
    await pollUntil(() => received.length === 5, 'the first five delivered');

    const oldMaster = await cluster.masterOf(`{${topic}}`);
    const [replica] = await cluster.replicasOf(oldMaster);
    if (!replica) throw new Error(`the master on ${oldMaster} has no replica`);
    await cluster.command(replica, 'CLUSTER', 'FAILOVER');
    await pollUntil(async () => (await cluster.masterOf(`{${topic}}`)) === replica, 'the replica to serve the slot', { timeoutMs: 10_000 });

    // Publishes work again on the new master; live delivery reaches the subscriber again.
    const after: string[] = [];
    await pollUntil(
      async () => {
        const id = await publisher.publish(topic, `after-${after.length}`, retention).catch(() => null);
        if (id) after.push(id);
        return after.some((a) => received.includes(a));
      },
      'a publish on the new master delivered live',
      { timeoutMs: 10_000 },
    );
    for (let i = 0; i < 5; i++) after.push(await publisher.publish(topic, `after-${after.length}`, retention));
    await pollUntil(() => after.slice(-5).every((id) => received.includes(id)), 'the last five delivered');
    expect(new Set(received).size, 'nothing twice').toBe(received.length);
    expect([...received].sort(compareIds)).toEqual(received);
    expect(received.slice(0, 5)).toEqual(before);

    // A position from before the takeover cannot prove nothing was lost: reset, then what the new master stored.
    const resumed = await subscriber.readAfter(topic, before.at(-1) as string, retention);
    expect(resumed.gap).toBe('reset');
    expect(resumed.entries.map((e) => e.id)).toEqual(after);
    // Positions the new master issued resume without a gap.
    expect((await subscriber.readAfter(topic, after[0] as string, retention)).gap).toBeNull();
    console.log(`[redis cluster] manual failover: the subscriber was told to resync ${interruptions} time(s)`);
    await cluster.deletePrefix(prefix);
    await cluster.waitUntilHealthy(); // the demoted master replicates again before another test kills one
  });

  it('a master killed mid-stream: publishes fail fast then succeed, other shards never notice, its subscribers get every acknowledged message or a gap, none twice', async () => {
    const started = Date.now();
    const prefix = testPrefix();
    // Two streams whose topics (`numbers:<stream>`) live on different masters.
    const streams: string[] = [];
    const owners: number[] = [];
    for (let i = 0; streams.length < 2 && i < 100; i++) {
      const owner = await cluster.masterOf(`{numbers:s${i}}`);
      if (!owners.includes(owner)) {
        streams.push(`s${i}`);
        owners.push(owner);
      }
    }
    const [moved, steady] = streams as [string, string];
    const victim = cluster.nodes.find((node) => node.port === owners[0]);
    if (!victim) throw new Error('the victim master is not one of the cluster nodes');

    const nodes = await Promise.all(
      ['node-a', 'node-b'].map(async (nodeId) =>
        cleanup.add(await startNumbersServer({ broker: redisBroker({ clusterUrls: cluster.urls, prefix }), historySize: 10_000, nodeId })),
      ),
    );
    const url = (node: (typeof nodes)[number]) => `ws://127.0.0.1:${node.server.port}/ws`;
    // A subscriber of each stream on each node, one of each client kind.
    const subscribers = nodes.flatMap((node, i) =>
      [moved, steady].map((stream) => ({
        stream,
        label: `${stream === moved ? 'moved' : 'steady'} on node ${i}`,
        subscription: subscribeNumbers(cleanup.add(numbersClient(i === 0 ? 'herald' : 'stock', url(node))), stream),
      })),
    );
    await Promise.all(subscribers.map((s) => s.subscription.waitForLive(1, 10_000)));

    let stop = false;
    const publishers = [moved, steady].map((stream, i) =>
      publishLoop(cleanup.add(numbersClient('stock', url(nodes[i] as (typeof nodes)[number]))), stream, {
        first: i * 100_000,
        max: 5_000,
        paceMs: 5,
        stop: () => stop,
      }),
    );
    cleanup.defer(async () => {
      stop = true;
      await Promise.all(publishers.map((p) => p.done));
    });
    const [movedPublisher, steadyPublisher] = publishers as [(typeof publishers)[number], (typeof publishers)[number]];
    await Promise.all(subscribers.map((s) => s.subscription.waitForMessages(30, 10_000)));

    const killedAt = Date.now();
    await victim.kill();
    // Publishes to the moved shard fail for a while, then succeed on the promoted replica.
    const acknowledgedSinceKill = () => movedPublisher.attempts.filter((a) => a.startedAt > killedAt && a.outcome === 'resolved');
    await pollUntil(() => acknowledgedSinceKill().length >= 30, '30 publishes acknowledged by the promoted replica', { timeoutMs: 20_000 });
    const recoveredAt = acknowledgedSinceKill()[0]?.settledAt ?? 0;
    const steadySinceKill = steadyPublisher.attempts.filter((a) => a.startedAt > killedAt).length;
    stop = true;
    await Promise.all(publishers.map((p) => p.done));
    await cluster.waitUntilHealthy();

    // The steady shard: every publish acknowledged, every subscriber got each once in one order, with no gap and no resync.
    expect(steadyPublisher.attempts.filter((a) => a.outcome !== 'resolved')).toEqual([]);
    expect(steadySinceKill).toBeGreaterThan(0);
    const steadyIds = steadyPublisher.attempts.map((a) => a.id as string);
    for (const s of subscribers.filter((s) => s.stream === steady)) {
      await s.subscription.waitForMessages(steadyIds.length, 10_000);
      expect(messageIds(s.subscription), s.label).toEqual(steadyIds);
      expect(gapsOf(s.subscription), s.label).toEqual([]);
      expect(liveMarkers(s.subscription), `${s.label}: never resubscribed`).toBe(1);
      expect(s.subscription.errors, s.label).toEqual([]);
    }

    // The moved shard: publishes during the switch failed fast with BROKER_UNAVAILABLE.
    const rejected = movedPublisher.attempts.filter((a) => a.outcome === 'rejected');
    expect(rejected.length, 'publishes refused during the switch').toBeGreaterThan(0);
    for (const attempt of rejected) {
      expect(heraldCodeOf(attempt.error), `publish ${attempt.n}`).toBe('BROKER_UNAVAILABLE');
      expect(attempt.settledAt - attempt.startedAt, `publish ${attempt.n} failed fast`).toBeLessThan(3_000);
    }
    const acknowledged = movedPublisher.attempts.filter((a) => a.outcome === 'resolved');
    const afterRecovery = acknowledged.filter((a) => a.startedAt >= recoveredAt).sort((a, b) => compareIds(a.id as string, b.id as string));
    const attemptOf = new Map(movedPublisher.attempts.map((a) => [a.n, a]));
    for (const s of subscribers.filter((s) => s.stream === moved)) {
      const afterIds = new Set(afterRecovery.map((a) => a.id));
      await s.subscription.until(
        () => messageIds(s.subscription).filter((id) => afterIds.has(id)).length >= afterRecovery.length,
        10_000,
        `${s.label}: every publish acknowledged after the failover`,
      );
      const ids = messageIds(s.subscription);
      const numbers = s.subscription.numbers();
      // Nothing twice, one order.
      expect(new Set(numbers).size, `${s.label}: no duplicates`).toBe(numbers.length);
      for (let i = 1; i < ids.length; i++) expect(compareIds(ids[i - 1] as string, ids[i] as string), `${s.label}: increasing at ${i}`).toBeLessThan(0);
      // A publish that was refused was never delivered.
      for (const n of numbers) expect(attemptOf.get(n)?.outcome, `${s.label}: delivered publish ${n}`).toBe('resolved');
      // Every acknowledged publish arrived, or the subscriber was told it may have missed some (a gap), never a silent hole.
      const delivered = new Set(ids);
      const missing = acknowledged.filter((a) => !delivered.has(a.id as string));
      if (missing.length > 0) expect(gapsOf(s.subscription).length, `${s.label}: ${missing.length} acknowledged publishes missing without a gap`).toBeGreaterThan(0);
      for (const reason of gapsOf(s.subscription)) expect(reason).toBe('reset');
      expect(s.subscription.errors, s.label).toEqual([]);
    }
    const moveGaps = subscribers.filter((s) => s.stream === moved).map((s) => gapsOf(s.subscription).length);
    console.log(
      `[redis cluster] failover: ${rejected.length} publishes refused (slowest ${Math.max(...rejected.map((a) => a.settledAt - a.startedAt))} ms), ` +
        `the promoted replica acknowledged the first ${recoveredAt - killedAt} ms after the kill; ` +
        `gap notices on the moved stream's subscribers: ${moveGaps.join(', ')} (test ${Date.now() - started} ms)`,
    );
    await cluster.deletePrefix(prefix);
  }, 60_000);
});
