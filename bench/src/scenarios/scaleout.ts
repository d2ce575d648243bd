import { Cleanup, findExecutable, startRedisCluster, startRedisServer } from '@herald/test-kit';
import { Redis } from 'ioredis';
import { creditWindow, type SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { processCpuMs, sleep } from '../lib/proc.js';
import type { PublishPlan } from '../lib/protocol.js';
import type { LatencySummary } from '../lib/stats.js';
import { measurePublishing, measureWindows, type Measurement } from './measure.js';
import { redisStats } from './shards.js';

export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
export const NODE_COUNTS = [1, 3] as const;

export interface ScaleRow {
  readonly nodes: number;
  readonly subscribers: number;
  readonly mode: 'fixed' | 'max';
  readonly targetPerSec: number | null;
  /** CPU per delivery counts every Herald node (and Redis when its process is visible here). */
  readonly measurement: Measurement;
  readonly redisCounted: boolean;
  /** Publish on node A, receive on node A. */
  readonly sameNode: LatencySummary;
  /** Publish on node A, receive on node B or C (null with one node). */
  readonly crossNode: LatencySummary | null;
}

export type ScaleResult =
  | { readonly skipped: string; readonly topics?: TopicsResult }
  | {
      readonly rows: ScaleRow[];
      readonly redisPid: number | null;
      /** Many topics, one Redis against a 3-shard cluster (absent from results written before it existed). */
      readonly topics?: TopicsResult;
    };

/** Whether Redis answers, and its pid when it runs on this machine (to count its CPU). */
async function probeRedis(): Promise<{ ok: true; pid: number | null } | { ok: false; reason: string }> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
    const info = await redis.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    const local = Number.isFinite(pid) && processCpuMs(pid) !== null;
    return { ok: true, pid: local ? pid : null };
  } catch (error) {
    return { ok: false, reason: error instanceof Error ? error.message : String(error) };
  } finally {
    redis.disconnect();
  }
}

/** Deletes the run's keys (history streams, presence) by prefix. */
async function cleanup(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    redis.disconnect();
  }
}

/**
 * Scenario 5: Herald nodes on one Redis (`redisBroker`), subscribers spread
 * evenly over them, messages published on node A. One node against three,
 * at a fixed delivery rate and at max rate. With two cores every node shares
 * the server core (the load generator keeps the other), so three nodes show
 * the cost of the Redis path, not more capacity.
 */
export async function runScaleout(config: SuiteConfig): Promise<ScaleResult> {
  const probe = await probeRedis();
  if (!probe.ok) {
    log(`WARNING: scale-out skipped: Redis at ${REDIS_URL} does not answer (${probe.reason})`);
    // The many-topic runs start their own Redis processes.
    return { skipped: `Redis at ${REDIS_URL} did not answer: ${probe.reason}`, topics: await runTopics(config) };
  }
  const redisPid = probe.pid;
  const rows: ScaleRow[] = [];
  const subscribers = config.scaleout.subscribers;
  for (const nodes of NODE_COUNTS) {
    const prefix = `herald-bench-${process.pid}-${Date.now()}`;
    try {
      await withProcesses(async (track) => {
        const servers: ServerProcess[] = [];
        for (let i = 0; i < nodes; i++) {
          const nodeId = `node-${String.fromCharCode(65 + i)}`;
          servers.push(track(await ServerProcess.start({ system: 'herald', port: 0, nodeId, redis: { url: REDIS_URL, prefix } })));
        }
        const loadgen = track(await LoadgenProcess.start());
        const connected = await loadgen.ipc.request(
          'connect',
          {
            kind: 'trpc-wire',
            urls: servers.map((server) => server.url),
            groups: servers.map((_, index) => (index === 0 ? 0 : 1)),
            count: subscribers,
            subscribe: true,
            concurrency: 100,
            reconnect: null,
          },
          180_000,
        );
        if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${subscribers} subscribers failed to connect`);
        const count = connected.connected;
        const redisCpu = redisPid === null ? undefined : () => (processCpuMs(redisPid) ?? 0) * 1000;
        const base = {
          servers,
          publisher: servers[0]!,
          loadgen,
          warmupMs: config.scaleout.warmupMs,
          windowMs: config.scaleout.windowMs,
          windows: config.scaleout.windows,
          extraCpuUs: redisCpu,
        };
        const target = config.fanout.fixedDeliveriesPerSec;
        const runs = [
          { mode: 'fixed' as const, targetPerSec: target, plan: { mode: 'fixed' as const, messagesPerSec: target / count } },
          { mode: 'max' as const, targetPerSec: null, plan: { mode: 'credit' as const, subscribers: count, windowMessages: creditWindow(count) } },
        ];
        for (const run of runs) {
          const measurement = await measurePublishing({ ...base, plan: run.plan });
          const row: ScaleRow = {
            nodes,
            subscribers: count,
            mode: run.mode,
            targetPerSec: run.targetPerSec,
            measurement,
            redisCounted: redisCpu !== undefined,
            sameNode: measurement.groupLatency[0]!,
            crossNode: nodes > 1 ? (measurement.groupLatency[1] ?? null) : null,
          };
          rows.push(row);
          log(
            `scaleout ${nodes} node(s) ${run.mode}: ${fmt(measurement.rate.value)} deliveries/s, ${fmt(measurement.cpuUsPerEvent.value)} µs CPU/delivery ` +
              `(nodes${row.redisCounted ? ' + Redis' : ''}); same node p50 ${fmt(row.sameNode.p50)} p99 ${fmt(row.sameNode.p99)} ms` +
              (row.crossNode ? `; cross node p50 ${fmt(row.crossNode.p50)} p99 ${fmt(row.crossNode.p99)} ms` : '') +
              (measurement.stalls ? ` [${measurement.stalls} stalls]` : '') +
              (measurement.publishErrors ? ` [${measurement.publishErrors} publish errors]` : ''),
          );
        }
      });
    } finally {
      await cleanup(prefix).catch((error: unknown) => log(`  WARNING: could not delete the bench's Redis keys (${prefix}*): ${String(error)}`));
    }
  }
  const topics = await runTopics(config);
  return { rows, redisPid, topics };
}


/** One Redis process's share of a many-topic run. */
export interface RedisShare {
  readonly port: number;
  /** PUBLISH (one Redis) or SPUBLISH (cluster) calls it ran: one per Herald publish. */
  readonly publishes: number;
  /** CPU it used over the window (its `INFO cpu`, user + system), in ms. */
  readonly cpuMs: number;
  readonly cpuUsPerPublish: number;
  /** Its CPU as a share of one core over the window, %. */
  readonly cpuPct: number;
  /** Its CPU share while nothing was published (subscribers connected), %: cluster bus, timers. */
  readonly idlePct: number;
  /** `cpuUsPerPublish` less its idle CPU over the window: what publishing itself costs it. */
  readonly cpuUsPerPublishOverIdle: number;
}

export interface TopicsRow {
  /** The broker: the memory one (one node, the baseline), one Redis, or a 3-master Redis Cluster. */
  readonly target: 'memory broker' | 'one Redis' | 'Redis Cluster, 3 shards';
  readonly nodes: number;
  readonly topics: number;
  readonly subscribers: number;
  readonly mode: 'fixed' | 'max';
  /** Deliveries/s asked for (fixed mode). */
  readonly targetPerSec: number | null;
  /** Herald publishes/s over all nodes. */
  readonly publishesPerSec: number;
  /** Deliveries/s is `measurement.rate`; CPU per delivery counts the Herald nodes only. */
  readonly measurement: Measurement;
  /** The nodes' CPU (summed, % of one core) while nothing was published. */
  readonly nodesIdlePct: number;
  readonly redis: readonly RedisShare[];
}

export type TopicsResult = { readonly skipped: string } | { readonly rows: TopicsRow[] };

/**
 * Publishing on every node at once, measured as `measureWindows` does, with
 * every Redis process's CPU and publish count read around the windows.
 */
async function measureTopics(
  options: { servers: ServerProcess[]; loadgen: LoadgenProcess; redisPorts: readonly number[]; warmupMs: number; windowMs: number; windows: number },
  plan: PublishPlan,
  creditStep: number,
  idlePct: readonly number[],
): Promise<{ measurement: Measurement; redis: RedisShare[] }> {
  const { servers, loadgen, redisPorts } = options;
  await loadgen.ipc.request('reset', { creditStep });
  const relays = plan.mode === 'credit' ? servers.map((server) => loadgen.relayCredit(server)) : [];
  await Promise.all(servers.map((server) => server.ipc.request('publish', plan)));
  try {
    await sleep(options.warmupMs);
    const before = await Promise.all(redisPorts.map(redisStats));
    const startedMs = Date.now();
    const measurement = await measureWindows({ servers, loadgen, warmupMs: 0, windowMs: options.windowMs, windows: options.windows });
    const after = await Promise.all(redisPorts.map(redisStats));
    const wallMs = Date.now() - startedMs;
    const redis = redisPorts.map((port, i) => {
      const publishes = after[i]!.publishes - before[i]!.publishes;
      const cpuMs = after[i]!.cpuMs - before[i]!.cpuMs;
      const overIdleMs = cpuMs - (idlePct[i]! / 100) * wallMs;
      return {
        port,
        publishes,
        cpuMs,
        cpuUsPerPublish: publishes > 0 ? (cpuMs * 1000) / publishes : Number.NaN,
        cpuPct: (cpuMs / wallMs) * 100,
        idlePct: idlePct[i]!,
        cpuUsPerPublishOverIdle: publishes > 0 ? (overIdleMs * 1000) / publishes : Number.NaN,
      };
    });
    return { measurement, redis };
  } finally {
    await Promise.all(servers.map((server) => server.ipc.request('stop', null)));
    for (const off of relays) off();
    await loadgen.ipc.request('reset', { creditStep: 0 });
    await sleep(300); // in-flight deliveries drain before the next run
  }
}

/** CPU shares (% of one core) of the nodes (summed) and of each Redis process over `ms` with nothing published. */
async function idleCpu(servers: readonly ServerProcess[], redisPorts: readonly number[], ms: number): Promise<{ nodesPct: number; redisPct: number[] }> {
  const nodeCpu = async () => (await Promise.all(servers.map((server) => server.stats(false)))).reduce((sum, s) => sum + s.cpu.userUs + s.cpu.systemUs, 0);
  const [nodesBefore, redisBefore] = await Promise.all([nodeCpu(), Promise.all(redisPorts.map(redisStats))]);
  const started = Date.now();
  await sleep(ms);
  const [nodesAfter, redisAfter] = await Promise.all([nodeCpu(), Promise.all(redisPorts.map(redisStats))]);
  const wallMs = Date.now() - started;
  return {
    nodesPct: ((nodesAfter - nodesBefore) / 1000 / wallMs) * 100,
    redisPct: redisPorts.map((_, i) => ((redisAfter[i]!.cpuMs - redisBefore[i]!.cpuMs) / wallMs) * 100),
  };
}

/** Deliveries/s of the fixed-rate many-topic runs: well under what the shared server core sustains, so the rows show a steady load's cost. */
export const TOPICS_FIXED_DELIVERIES_PER_SEC = 5_000;

/** Herald nodes on one broker, subscribers over many rooms, every node publishing over every room. */
async function runTopicsOn(
  config: SuiteConfig,
  target: TopicsRow['target'],
  nodes: number,
  redis: { url: string } | { clusterUrls: readonly string[] } | null,
  redisPorts: readonly number[],
): Promise<TopicsRow[]> {
  const size = config.name === 'quick' ? { subscribers: 1_500, topics: 150 } : { subscribers: 3_000, topics: 300 };
  const timing = config.name === 'quick' ? { warmupMs: 1_000, windowMs: 1_500, windows: 2 } : { warmupMs: 1_500, windowMs: 2_000, windows: 3 };
  const prefix = `herald-bench-topics-${process.pid}-${Date.now()}`;
  return withProcesses(async (track) => {
    const servers: ServerProcess[] = [];
    for (let i = 0; i < nodes; i++) {
      const nodeId = `node-${String.fromCharCode(65 + i)}`;
      servers.push(
        track(await ServerProcess.start({ system: 'herald', port: 0, nodeId, ...(redis ? { redis: { ...redis, prefix } } : {}), rooms: size.topics })),
      );
    }
    const loadgen = track(await LoadgenProcess.start());
    const connected = await loadgen.ipc.request(
      'connect',
      {
        kind: 'trpc-wire',
        urls: servers.map((server) => server.url),
        count: size.subscribers,
        subscribe: true,
        rooms: size.topics,
        concurrency: 100,
        reconnect: null,
      },
      180_000,
    );
    if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${size.subscribers} subscribers failed to connect`);
    const perMessage = connected.connected / size.topics;
    const target_ = TOPICS_FIXED_DELIVERIES_PER_SEC;
    await sleep(1_000); // subscriptions settle
    const idle = await idleCpu(servers, redisPorts, 2_000);
    // Max rate: each node may run `window` messages ahead of what the subscribers took of all nodes' messages, about 16k deliveries in flight.
    const window = Math.min(512, Math.max(8, Math.ceil(16_384 / (nodes * perMessage))));
    const runs = [
      { mode: 'fixed' as const, targetPerSec: target_, plan: { mode: 'fixed' as const, messagesPerSec: target_ / perMessage / nodes }, creditStep: 0 },
      {
        mode: 'max' as const,
        targetPerSec: null,
        plan: { mode: 'credit' as const, subscribers: nodes * perMessage, windowMessages: window },
        creditStep: Math.max(1, Math.floor((nodes * perMessage * window) / 4)),
      },
    ];
    const rows: TopicsRow[] = [];
    for (const run of runs) {
      const { measurement, redis: shares } = await measureTopics({ servers, loadgen, redisPorts, ...timing }, run.plan, run.creditStep, idle.redisPct);
      const seconds = measurement.events / measurement.rate.value;
      const row: TopicsRow = {
        target,
        nodes,
        topics: size.topics,
        subscribers: connected.connected,
        mode: run.mode,
        targetPerSec: run.targetPerSec,
        publishesPerSec: seconds > 0 ? measurement.published / seconds : 0,
        measurement,
        nodesIdlePct: idle.nodesPct,
        redis: shares,
      };
      rows.push(row);
      log(
        `scaleout topics, ${nodes} node(s), ${target} ${run.mode}: ${fmt(row.publishesPerSec)} publishes/s, ${fmt(measurement.rate.value)} deliveries/s, ` +
          `${fmt(measurement.cpuUsPerEvent.value)} µs node CPU/delivery; Redis µs CPU/publish (over idle): ${shares.map((s) => `${fmt(s.cpuUsPerPublish)} (${fmt(s.cpuUsPerPublishOverIdle)})`).join(', ')}` +
          (measurement.stalls ? ` [${measurement.stalls} stalls]` : '') +
          (measurement.publishErrors ? ` [${measurement.publishErrors} publish errors]` : ''),
      );
    }
    return rows;
  });
}

/**
 * Scenario 5, many topics: Herald nodes, each publishing round-robin over
 * every room, subscribers spread over the nodes and the rooms (every room has
 * subscribers on every node): one node on the memory broker (the baseline),
 * one and three nodes on one Redis, three nodes on a Redis Cluster of three
 * masters; both Redis setups started here and stopped after.
 */
export async function runTopics(config: SuiteConfig): Promise<TopicsResult> {
  const redisServer = findExecutable('redis-server');
  const redisCli = findExecutable('redis-cli');
  if (!redisServer || !redisCli) {
    log('WARNING: scale-out over many topics skipped: redis-server and redis-cli are needed');
    return { skipped: 'redis-server or redis-cli is not installed' };
  }
  const rows: TopicsRow[] = [];
  rows.push(...(await runTopicsOn(config, 'memory broker', 1, null, [])));
  {
    await using cleanup = new Cleanup();
    const single = await startRedisServer(cleanup, redisServer);
    rows.push(...(await runTopicsOn(config, 'one Redis', 1, { url: single.url }, [single.port])));
    rows.push(...(await runTopicsOn(config, 'one Redis', 3, { url: single.url }, [single.port])));
  }
  {
    await using cleanup = new Cleanup();
    const cluster = await startRedisCluster(cleanup, { redisServer, redisCli }, { replicasPerMaster: 0 });
    rows.push(...(await runTopicsOn(config, 'Redis Cluster, 3 shards', 3, { clusterUrls: cluster.urls }, await cluster.masters())));
  }
  return { rows };
}
