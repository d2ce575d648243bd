import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { redisBroker, type RedisBrokerOptions } from '@herald/server/redis';
import type { Broker, PresenceChange } from '@herald/server';
import { brokerContract } from './helpers/brokerContract.js';
import {
  Cleanup,
  findTool,
  IN_CI,
  kill,
  REDIS_URL,
  redisAvailable,
  startPresenceNode,
  startRedisCluster,
  testPrefix,
  toolOrFail,
  type RedisCluster,
} from '@herald/test-kit';

/** Where a suite's brokers point: the shared Redis, or a Redis Cluster this file starts. */
interface Target {
  readonly name: string;
  readonly run: boolean;
  /** Starts what the target needs (the cluster), once per file. */
  start(cleanup: Cleanup): Promise<void>;
  options(): RedisBrokerOptions;
  /** What the kit's node fixtures take: a URL, or the cluster's seeds. */
  nodeUrl(): string;
  /** Every key under `prefix` gone: a Redis restart without persistence, as Herald sees it. */
  wipe(prefix: string): Promise<void>;
}

const oneRedis: Target = {
  name: 'one Redis',
  run: await redisAvailable(),
  start: async () => undefined,
  options: () => ({ url: REDIS_URL }),
  nodeUrl: () => REDIS_URL,
  async wipe(prefix) {
    const admin = new Redis(REDIS_URL);
    const doomed = await admin.keys(`${prefix}:*`);
    if (doomed.length > 0) await admin.del(...doomed);
    admin.disconnect();
  },
};

const redisServer = findTool('redis-server', 'the Redis Cluster suite');
const redisCli = findTool('redis-cli', 'the Redis Cluster suite');
let cluster: RedisCluster | null = null;
const startedCluster = () => {
  if (!cluster) throw new Error('the Redis Cluster is not started');
  return cluster;
};
const redisCluster: Target = {
  name: 'Redis Cluster',
  run: IN_CI || (redisServer !== null && redisCli !== null),
  async start(cleanup) {
    cluster = await startRedisCluster(cleanup, { redisServer: toolOrFail(redisServer, 'redis-server'), redisCli: toolOrFail(redisCli, 'redis-cli') });
  },
  options: () => ({ clusterUrls: startedCluster().urls }),
  nodeUrl: () => startedCluster().seeds,
  wipe: (prefix) => startedCluster().deletePrefix(prefix),
};

describe.each([oneRedis, redisCluster].filter((target) => target.run))('redis broker on $name', (target) => {
  const fileCleanup = new Cleanup();
  beforeAll(() => target.start(fileCleanup), 30_000);
  afterAll(() => fileCleanup.run());

  brokerContract(`redis (${target.name})`, () => redisBroker({ ...target.options(), prefix: testPrefix() }));

  const retention = { size: 100, ttlMs: 60_000 };
  const brokers: Broker[] = [];
  const make = (prefix: string, presenceTtlMs?: number) => {
    const broker = redisBroker({ ...target.options(), prefix, ...(presenceTtlMs ? { presenceTtlMs } : {}) });
    brokers.push(broker);
    return broker;
  };
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });

  it('delivers a publish on one node to subscribers on another, in one order', async () => {
    const prefix = testPrefix();
    const [a, b, c] = [make(prefix), make(prefix), make(prefix)];
    const seenOnB: string[] = [];
    const seenOnC: string[] = [];
    await b.subscribe('t', { onEntry: (e) => seenOnB.push(e.id), onInterrupted: () => {} });
    await c.subscribe('t', { onEntry: (e) => seenOnC.push(e.id), onInterrupted: () => {} });
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : c).publish('t', `m${i}`, retention)));
    await expect.poll(() => seenOnB.length).toBe(50);
    await expect.poll(() => seenOnC.length).toBe(50);
    expect(seenOnB).toEqual(seenOnC);
    expect(new Set(seenOnB)).toEqual(new Set(ids));
    const history = await b.readLatest('t', 100, retention);
    expect(history.entries.map((e) => e.id)).toEqual(seenOnB);
  });

  it('says reset for a position from before the Redis data was lost', async () => {
    const prefix = testPrefix();
    const broker = make(prefix);
    const old = await broker.publish('t', 'a', retention);
    await target.wipe(prefix);
    await new Promise((resolve) => setTimeout(resolve, 5)); // the new epoch must start on a later millisecond
    await broker.publish('t', 'b', retention);
    expect((await broker.readAfter('t', old, retention)).gap).toBe('reset');
  });

  it('expires the presence of a node that died without leaving', async () => {
    const prefix = testPrefix();
    const survivor = make(prefix, 300);
    const events: PresenceChange[] = [];
    const unsubscribe = await survivor.presence.subscribe('room', { onEvent: (e) => events.push(e), onInterrupted: () => {} });
    await survivor.presence.join('room', { clientId: 'alive', info: '"a"', joinedAt: 2 });
    const child = await startPresenceNode({ redisUrl: target.nodeUrl(), prefix, topic: 'room', clientId: 'ghost', presenceTtlMs: 300 });
    expect((await survivor.presence.list('room')).map((r) => r.clientId).sort()).toEqual(['alive', 'ghost']);
    await kill(child); // no leave is ever sent
    await expect.poll(() => events.some((e) => e.type === 'leave' && e.clientId === 'ghost'), { timeout: 5_000 }).toBe(true);
    expect((await survivor.presence.list('room')).map((r) => r.clientId)).toEqual(['alive']);
    // The survivor kept refreshing its own entry well past the TTL.
    expect(events.filter((e) => e.type === 'leave')).toHaveLength(1);
    await unsubscribe();
  });
});
