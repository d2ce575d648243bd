/**
 * A Redis Cluster of a test's own: `redis-server --cluster-enabled yes`
 * processes on spare 127.0.0.1 ports, joined with `redis-cli --cluster create`,
 * each master with its replicas. Start one per test file (beforeAll): it takes
 * a few seconds. Nothing is persisted; `cleanup` stops the processes and
 * deletes their directories.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Cleanup } from './cleanup.js';
import { kill } from './spawn.js';

/** One redis-server of the cluster. */
export interface RedisClusterNode {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  running(): boolean;
  /** SIGKILL, and wait until the process is gone (its replica takes over after the node timeout). */
  kill(): Promise<void>;
  /** Sends `signal` to the process: SIGSTOP pauses it (connections stay open, nothing is answered, the cluster bus is silent), SIGCONT resumes it. */
  signal(signal: NodeJS.Signals): void;
  output(): string;
}

export interface RedisCluster {
  readonly nodes: readonly RedisClusterNode[];
  /** Every node's URL: seed nodes for a cluster client (`redisBroker({ clusterUrls })`). */
  readonly urls: readonly string[];
  /** The URLs joined with commas: what the kit's node fixtures take for a cluster. */
  readonly seeds: string;
  /** How long a master may be unreachable before its replica is promoted. */
  readonly nodeTimeoutMs: number;
  /** The ports of the masters now, as the cluster reports them (a live node's `CLUSTER SHARDS`). */
  masters(): Promise<number[]>;
  /** The ports of the running replicas of the master on `masterPort`. */
  replicasOf(masterPort: number): Promise<number[]>;
  /** The port of the master that serves `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** Runs one command on the node at `port` (a fresh connection) and returns its reply. */
  command(port: number, ...args: (string | number)[]): Promise<unknown>;
  /** Deletes every key under `prefix` on every master (bounded scans). */
  deletePrefix(prefix: string): Promise<void>;
  /** Resolves once every running node says `cluster_state:ok` and agrees on the masters. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
}

export interface RedisClusterOptions {
  /** @default 3 */
  readonly masters?: number;
  /** @default 1 */
  readonly replicasPerMaster?: number;
  /** `cluster-node-timeout`: failure detection, and with it failover, takes about this long. @default 1_000 */
  readonly nodeTimeoutMs?: number;
}

/** The cluster bus listens on the data port + 10000, so data ports stay below 55536; these stay below the ephemeral range too. */
const PORT_RANGE = { from: 12_000, to: 22_000 } as const;
const BUS_OFFSET = 10_000;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A port whose cluster bus port is free as well, not among `taken`. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if (taken.has(port) || taken.has(port + BUS_OFFSET)) continue;
    if ((await portFree(port)) && (await portFree(port + BUS_OFFSET))) return port;
  }
  throw new Error('no spare port pair for a Redis Cluster node');
}

async function runToExit(command: string, args: string[], timeoutMs: number): Promise<string> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${output}`);
  return output;
}

async function oneCommand(port: number, args: (string | number)[], timeoutMs = 1_000): Promise<unknown> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const [name, ...rest] = args;
    return await redis.call(String(name), ...rest);
  } finally {
    redis.disconnect();
  }
}

/** Starts the cluster; `cleanup` kills every node and deletes their directories. */
export async function startRedisCluster(
  cleanup: Cleanup,
  tools: { redisServer: string; redisCli: string },
  options: RedisClusterOptions = {},
): Promise<RedisCluster> {
  const masterCount = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 1;
  const nodeTimeoutMs = options.nodeTimeoutMs ?? 1_000;
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-cluster-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));

  const taken = new Set<number>();
  const nodes: RedisClusterNode[] = [];
  const children: ChildProcess[] = [];
  cleanup.defer(() => Promise.all(children.map((child) => kill(child))));

  /** Starts one node on `port`; null if it exited at once (the port, or its bus port, was taken meanwhile). */
  async function launch(port: number): Promise<RedisClusterNode | null> {
    const child = spawn(
      tools.redisServer,
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', `nodes-${port}.conf`,
        '--cluster-node-timeout', String(nodeTimeoutMs),
        // Other shards keep serving while one fails over.
        '--cluster-require-full-coverage', 'no',
        // A replica takes over however long it was out of touch (a test kills masters at any moment).
        '--cluster-replica-validity-factor', '0',
        // Replicas sync at once (the default waits 5 s for more replicas to share one transfer).
        '--repl-diskless-sync-delay', '0',
        '--save', '',
        '--appendonly', 'no',
        '--dir', dir,
        '--daemonize', 'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const node: RedisClusterNode = {
      port,
      url: `redis://127.0.0.1:${port}`,
      running: () => child.exitCode === null && child.signalCode === null,
      kill: () => kill(child),
      signal: (signal) => {
        if (node.running()) child.kill(signal);
      },
      output: () => output,
    };
    // Nothing announces that a redis-server accepts connections: ask it, bounded.
    // The answer must come from this child: another file's cluster may have
    // bound the port first (this child then exits), and its node must not be
    // taken for ours.
    const deadline = Date.now() + 10_000;
    const ours = `process_id:${child.pid}\r\n`;
    for (;;) {
      if (!node.running()) return null;
      const info = await oneCommand(port, ['INFO', 'server'], 300).catch(() => null);
      if (typeof info === 'string' && info.includes(ours)) return node;
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer within 10 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  for (let i = 0; i < masterCount * (1 + replicas); i++) {
    let node: RedisClusterNode | null = null;
    // Another process can take a spare port between finding it and binding it: try a few.
    for (let attempt = 0; attempt < 5 && !node; attempt++) {
      const port = await clusterPort(taken);
      taken.add(port);
      taken.add(port + BUS_OFFSET);
      node = await launch(port);
    }
    if (!node) throw new Error('redis-server did not start on a spare port pair in 5 attempts');
    nodes.push(node);
  }

  await runToExit(
    tools.redisCli,
    ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
    30_000,
  );

  const live = () => nodes.filter((node) => node.running());

  async function shards(): Promise<{ master: number; replicas: number[]; slots: [number, number][] }[]> {
    let lastError: unknown = null;
    for (const node of live()) {
      try {
        // CLUSTER SHARDS: [ 'slots', [from, to, ...], 'nodes', [ [ 'id', .., 'port', p, .., 'role', r, .., 'health', h ], ... ] ]
        const reply = (await oneCommand(node.port, ['CLUSTER', 'SHARDS'])) as unknown[][];
        return reply.flatMap((shard) => {
          const fields = toMap(shard);
          const ranges = (fields.get('slots') as number[]) ?? [];
          const members = ((fields.get('nodes') as unknown[][]) ?? []).map(toMap);
          const master = members.find((n) => n.get('role') === 'master' && n.get('health') === 'online');
          if (!master || ranges.length === 0) return [];
          const replicas = members.filter((n) => n.get('role') === 'replica' && n.get('health') === 'online').map((n) => Number(n.get('port')));
          const slots: [number, number][] = [];
          for (let i = 0; i + 1 < ranges.length; i += 2) slots.push([Number(ranges[i]), Number(ranges[i + 1])]);
          return [{ master: Number(master.get('port')), replicas, slots }];
        });
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error('no cluster node answered CLUSTER SHARDS', { cause: lastError });
  }

  const cluster: RedisCluster = {
    nodes,
    urls: nodes.map((node) => node.url),
    seeds: nodes.map((node) => node.url).join(','),
    nodeTimeoutMs,
    async deletePrefix(prefix) {
      for (const port of await cluster.masters()) {
        const admin = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null });
        admin.on('error', () => undefined);
        try {
          let cursor = '0';
          for (let round = 0; round < 1_000; round++) {
            const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
            // One key a command: keys of different slots cannot share a DEL on a cluster node.
            await Promise.all(keys.map((key) => admin.del(key)));
            cursor = next;
            if (cursor === '0') break;
          }
        } finally {
          admin.disconnect();
        }
      }
    },
    async masters() {
      return (await shards()).map((shard) => shard.master).sort((a, b) => a - b);
    },
    async replicasOf(masterPort) {
      return (await shards()).find((shard) => shard.master === masterPort)?.replicas ?? [];
    },
    async masterOf(key) {
      const slot = Number(await oneCommand(live()[0]?.port ?? 0, ['CLUSTER', 'KEYSLOT', key]));
      const owner = (await shards()).find((shard) => shard.slots.some(([from, to]) => slot >= from && slot <= to));
      if (!owner) throw new Error(`no master serves slot ${slot} (of ${key})`);
      return owner.master;
    },
    command: (port, ...args) => oneCommand(port, args),
    async waitUntilHealthy(timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let last = '';
      for (;;) {
        try {
          const running = live();
          const states = await Promise.all(running.map(async (node) => String(await oneCommand(node.port, ['CLUSTER', 'INFO']))));
          const okEverywhere = states.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info));
          const current = await shards();
          const masterPorts = new Set(current.map((shard) => shard.master));
          // Every replica that runs has its master link up, so a later kill has someone to promote with the data.
          const replicasUp = await Promise.all(
            running
              .filter((node) => !masterPorts.has(node.port))
              .map(async (node) => /master_link_status:up/.test(String(await oneCommand(node.port, ['INFO', 'replication'])))),
          );
          // ...and the cluster sees every running replica as online (a manual failover needs that).
          const onlineReplicas = new Set(current.flatMap((shard) => shard.replicas));
          const replicasKnown = running.every((node) => masterPorts.has(node.port) || onlineReplicas.has(node.port));
          last = `states ok: ${okEverywhere}, masters: ${[...masterPorts].join(',')}, replicas up: ${replicasUp.join(',')}, replicas online: ${replicasKnown}`;
          if (okEverywhere && current.length === masterCount && replicasUp.every(Boolean) && replicasKnown) return;
        } catch (error) {
          last = String(error);
        }
        if (Date.now() > until) throw new Error(`the Redis Cluster was not healthy within ${timeoutMs} ms (${last})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
  await cluster.waitUntilHealthy();
  return cluster;
}

function toMap(flat: unknown[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(String(flat[i]), flat[i + 1]);
  return map;
}
