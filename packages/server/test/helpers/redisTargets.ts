import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import type { RedisBrokerOptions } from '@herald/server/redis';
import {
  Cleanup,
  deletePrefix,
  findTool,
  IN_CI,
  REDIS_URL,
  redisAvailable,
  startRedisCluster,
  toolOrFail,
  type RedisCluster,
} from '@herald/test-kit';

/**
 * Where a Redis suite's brokers point: the shared Redis, or a Redis Cluster
 * the test file starts. A file runs its suite on each with
 * `describe.each(await redisTargets())`.
 */
export interface RedisTarget {
  readonly name: string;
  /** Broker options that point at it (add a `prefix`). */
  options(): RedisBrokerOptions;
  /** What the kit's node fixtures take (`startNodes({ redisUrl })`): a URL, or the cluster's seeds. */
  nodeUrl(): string;
  /** Deletes every key under `prefix`. */
  deletePrefix(prefix: string): Promise<void>;
  /** Deletes every key under `prefix` at once, as a Redis restart without persistence looks to Herald. */
  wipe(prefix: string): Promise<void>;
}

const oneRedis: RedisTarget = {
  name: 'one Redis',
  options: () => ({ url: REDIS_URL }),
  nodeUrl: () => REDIS_URL,
  deletePrefix: (prefix) => deletePrefix(REDIS_URL, prefix),
  async wipe(prefix) {
    const admin = new Redis(REDIS_URL);
    try {
      const doomed = await admin.keys(`${prefix}:*`);
      if (doomed.length > 0) await admin.del(...doomed);
    } finally {
      admin.disconnect();
    }
  },
};

/**
 * The targets that can run here: one Redis if it answers, and a Redis Cluster
 * (3 masters with a replica each) if redis-server and redis-cli are
 * installed, started once for the calling file (beforeAll) and stopped after
 * it. In CI neither is ever left out: a missing one fails the run.
 */
export async function redisTargets(): Promise<RedisTarget[]> {
  const targets: RedisTarget[] = [];
  if (await redisAvailable()) targets.push(oneRedis);
  const redisServer = findTool('redis-server', 'the Redis Cluster suites');
  const redisCli = findTool('redis-cli', 'the Redis Cluster suites');
  if (!IN_CI && (!redisServer || !redisCli)) return targets;

  let cluster: RedisCluster | null = null;
  const started = () => {
    if (!cluster) throw new Error('the Redis Cluster is not started (redisTargets() registers its beforeAll in the calling file)');
    return cluster;
  };
  const cleanup = new Cleanup();
  beforeAll(async () => {
    cluster = await startRedisCluster(cleanup, { redisServer: toolOrFail(redisServer, 'redis-server'), redisCli: toolOrFail(redisCli, 'redis-cli') });
  }, 30_000);
  afterAll(() => cleanup.run());
  targets.push({
    name: 'Redis Cluster',
    options: () => ({ clusterUrls: started().urls }),
    nodeUrl: () => started().seeds,
    deletePrefix: (prefix) => started().deletePrefix(prefix),
    wipe: (prefix) => started().deletePrefix(prefix),
  });
  return targets;
}
