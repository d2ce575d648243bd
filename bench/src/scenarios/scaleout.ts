import { Redis } from 'ioredis';
import { creditWindow, type SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { processCpuMs } from '../lib/proc.js';
import type { LatencySummary } from '../lib/stats.js';
import { measurePublishing, type Measurement } from './measure.js';

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

export type ScaleResult = { readonly skipped: string } | { readonly rows: ScaleRow[]; readonly redisPid: number | null };

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
    return { skipped: `Redis at ${REDIS_URL} did not answer: ${probe.reason}` };
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
  return { rows, redisPid };
}
