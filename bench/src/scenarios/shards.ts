import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { RedisBrokerOptions } from '@herald/server/redis';
import { Cleanup, findExecutable, startRedisCluster, startRedisServer } from '@herald/test-kit';
import { Redis } from 'ioredis';
import type { SuiteConfig } from '../config.js';
import { fmt, log } from '../lib/log.js';
import { spawnBenchProcess, stopProcess } from '../lib/proc.js';

const NODE_ENTRY = fileURLToPath(new URL('../shards/node.ts', import.meta.url));
/** Herald nodes (broker processes), each subscribed to every topic and publishing over all of them. */
const NODES = 3;
const TOPICS = 300;
/** Publishes in flight per node. */
const CONCURRENCY = 16;

/** One Redis process's share of a run. */
export interface ShardRow {
  readonly port: number;
  /** PUBLISH (one Redis) or SPUBLISH (cluster) calls it ran: one per Herald publish. */
  readonly publishes: number;
  /** CPU it used (user + system, from its INFO cpu), in ms. */
  readonly cpuMs: number;
  /** `cpuMs` per publish, in µs: what one more publish costs Redis. */
  readonly cpuUsPerPublish: number;
}

export interface ShardsRow {
  readonly target: 'one Redis' | 'Redis Cluster, 3 shards';
  readonly nodes: number;
  readonly topics: number;
  readonly windowMs: number;
  readonly publishesPerSec: number;
  /** Live entries received by the nodes (every node subscribes to every topic: `nodes` per publish). */
  readonly deliveriesPerSec: number;
  readonly errors: number;
  readonly shards: readonly ShardRow[];
}

export type ShardsResult = { readonly skipped: string } | { readonly rows: ShardsRow[] };

export interface RedisStats {
  readonly cpuMs: number;
  readonly publishes: number;
}

/** A Redis process's CPU so far (its `INFO cpu`, user + system) and its PUBLISH + SPUBLISH calls (scripts' included). */
export async function redisStats(port: number): Promise<RedisStats> {
  const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
  try {
    const cpu = await redis.info('cpu');
    const commands = await redis.info('commandstats');
    const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
    const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(commands)?.[1] ?? 0);
    return { cpuMs: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1000, publishes: calls('publish') + calls('spublish') };
  } finally {
    redis.disconnect();
  }
}

class NodeProcess {
  private constructor(readonly child: ChildProcess) {}

  static async start(broker: RedisBrokerOptions, prefix: string): Promise<NodeProcess> {
    const child = spawnBenchProcess(NODE_ENTRY, [], { core: null, nofile: 4_096 });
    const node = new NodeProcess(child);
    await node.request({ type: 'start', broker, prefix, topics: TOPICS, concurrency: CONCURRENCY }, 'ready', 30_000);
    return node;
  }

  async request<T>(command: object, reply: string, timeoutMs: number): Promise<T> {
    const answered = new Promise<T>((resolve, reject) => {
      const onMessage = (message: { type?: string }) => {
        if (message.type !== reply) return;
        this.child.off('message', onMessage);
        resolve(message as T);
      };
      this.child.on('message', onMessage);
      once(this.child, 'exit').then(() => reject(new Error(`shards node exited before '${reply}'`)), reject);
    });
    this.child.send(command);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        answered,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`shards node: no '${reply}' within ${timeoutMs} ms`)), timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }
}

interface Done {
  readonly publishes: number;
  readonly deliveries: number;
  readonly errors: number;
}

/** Runs the nodes against one target and reads each Redis process's CPU and publish count around the window. */
async function measure(
  target: ShardsRow['target'],
  broker: RedisBrokerOptions,
  ports: readonly number[],
  timing: { warmupMs: number; windowMs: number },
): Promise<ShardsRow> {
  const prefix = `herald-bench-shards-${process.pid}-${Date.now()}`;
  const nodes: NodeProcess[] = [];
  try {
    for (let i = 0; i < NODES; i++) nodes.push(await NodeProcess.start(broker, prefix));
    await Promise.all(nodes.map((node) => node.request<Done>({ type: 'run', ms: timing.warmupMs }, 'done', timing.warmupMs + 30_000)));
    const before = await Promise.all(ports.map(redisStats));
    const started = Date.now();
    const done = await Promise.all(nodes.map((node) => node.request<Done>({ type: 'run', ms: timing.windowMs }, 'done', timing.windowMs + 30_000)));
    const elapsedMs = Date.now() - started;
    const after = await Promise.all(ports.map(redisStats));
    const shards = ports.map((port, i) => {
      const publishes = (after[i] as RedisStats).publishes - (before[i] as RedisStats).publishes;
      const cpuMs = (after[i] as RedisStats).cpuMs - (before[i] as RedisStats).cpuMs;
      return { port, publishes, cpuMs, cpuUsPerPublish: publishes > 0 ? (cpuMs * 1000) / publishes : 0 };
    });
    const sum = (pick: (d: Done) => number) => done.reduce((total, d) => total + pick(d), 0);
    return {
      target,
      nodes: NODES,
      topics: TOPICS,
      windowMs: elapsedMs,
      publishesPerSec: (sum((d) => d.publishes) * 1000) / elapsedMs,
      deliveriesPerSec: (sum((d) => d.deliveries) * 1000) / elapsedMs,
      errors: sum((d) => d.errors),
      shards,
    };
  } finally {
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

/**
 * Scenario 10: the Redis side of scaling out. Three broker processes (Herald
 * nodes without sockets) each subscribe to 300 topics and publish over all of
 * them as fast as they can, first on one Redis, then on a Redis Cluster of
 * three masters (no replicas). Reported: publishes/s, deliveries/s, and per
 * Redis process its publishes and CPU per publish. On a two-core machine the
 * rates are bounded by the cores every process shares; the CPU per publish
 * per shard is the figure that carries over (a shard runs on its own core).
 */
export async function runShards(config: SuiteConfig): Promise<ShardsResult> {
  const redisServer = findExecutable('redis-server');
  const redisCli = findExecutable('redis-cli');
  if (!redisServer || !redisCli) {
    log('WARNING: shards skipped: redis-server and redis-cli are needed');
    return { skipped: 'redis-server or redis-cli is not installed' };
  }
  const timing = config.name === 'quick' ? { warmupMs: 500, windowMs: 1_500 } : { warmupMs: 1_500, windowMs: 4_000 };
  await using cleanup = new Cleanup();
  const single = await startRedisServer(cleanup, redisServer);
  const cluster = await startRedisCluster(cleanup, { redisServer, redisCli }, { replicasPerMaster: 0 });
  const rows: ShardsRow[] = [];
  rows.push(await measure('one Redis', { url: single.url }, [single.port], timing));
  rows.push(await measure('Redis Cluster, 3 shards', { clusterUrls: cluster.urls }, await cluster.masters(), timing));
  for (const row of rows) {
    log(
      `shards ${row.target}: ${fmt(row.publishesPerSec)} publishes/s, ${fmt(row.deliveriesPerSec)} deliveries/s` +
        (row.errors ? ` [${row.errors} publish errors]` : '') +
        `; per Redis: ${row.shards.map((s) => `${s.publishes} publishes, ${fmt(s.cpuUsPerPublish)} µs CPU each`).join('; ')}`,
    );
  }
  return { rows };
}
