/**
 * Helpers for the multi-process tests: Herald nodes in child processes (the
 * numbers app on the Redis broker, fixtures/numbersNode.ts), a Redis server of
 * a test's own, HAProxy in front of the nodes, and numbers-app clients of
 * both kinds. Everything listens on 127.0.0.1 only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  heraldClient,
  recordChannel,
  recordSubscription,
  stockClient,
  waitFor,
  type ChannelSubscription,
  type ClientKind,
  type Cleanup,
  type ConnectionParams,
  type RecordedSubscription,
  type SubscriptionHandlers,
  type TestClient,
} from '../../../../examples/chat-server/test/helpers/clients.js';
import type { PresenceEvent } from '@herald/shared';
import type { NumbersRouter } from './numbersApp.js';
import { kill, spawnTs } from './spawn.js';
import { freePort } from '@herald/server/testing';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const IN_CI = Boolean(process.env['CI']);

/** A Herald node process of the numbers app. */
export interface HeraldNode {
  readonly nodeId: string;
  readonly port: number;
  /** `ws://127.0.0.1:<port>/ws` */
  readonly url: string;
  /** `http://127.0.0.1:<port>` */
  readonly httpUrl: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** The process has not exited. */
  running(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface NodeOptions {
  readonly redisUrl: string;
  /** The Redis key prefix; every node of one test shares it. */
  readonly prefix: string;
  readonly nodeId: string;
  /** @default 15_000 (the broker's default) */
  readonly presenceTtlMs?: number;
}

/** Starts a node on a free port and waits until it serves; `cleanup` kills it. */
export async function startNode(cleanup: Cleanup, options: NodeOptions): Promise<HeraldNode> {
  const { child, output } = await spawnTs(
    'packages/server/test/fixtures/numbersNode.ts',
    [options.redisUrl, options.prefix, '0', String(options.presenceTtlMs ?? 15_000), options.nodeId],
    { ready: /listening \d+/ },
  );
  cleanup.defer(() => kill(child));
  const port = Number(/listening (\d+)/.exec(output())?.[1]);
  return {
    nodeId: options.nodeId,
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    child,
    output,
    running: () => child.exitCode === null && child.signalCode === null,
    kill: (signal) => kill(child, signal),
  };
}

/** `count` nodes named node-a, node-b, ... on one Redis and prefix, started in parallel. */
export function startNodes(cleanup: Cleanup, count: number, options: Omit<NodeOptions, 'nodeId'>): Promise<HeraldNode[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => startNode(cleanup, { ...options, nodeId: `node-${String.fromCharCode(97 + i)}` })),
  );
}

export interface HealthReply {
  readonly status: number;
  readonly body: { status: string; nodeId: string | null; connections: number };
}

/** GET `path` from a node's HTTP side (`/healthz`, `/readyz`), bounded by `timeoutMs`. */
export async function getHealth(node: HeraldNode, path: '/healthz' | '/readyz', timeoutMs = 3_000): Promise<HealthReply> {
  const response = await fetch(`${node.httpUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: (await response.json()) as HealthReply['body'] };
}

/** A client of the numbers app: stock tRPC on one URL, or Herald's client on one or several. */
export function numbersClient(kind: ClientKind, url: string | readonly string[], connectionParams?: ConnectionParams): TestClient<NumbersRouter> {
  if (kind === 'stock') {
    if (typeof url !== 'string') throw new TypeError('the stock client takes one URL');
    return stockClient<NumbersRouter>(url, connectionParams);
  }
  const client = heraldClient<NumbersRouter>(url, connectionParams);
  return { kind, trpc: client.trpc, connection: client.connection, close: () => client.close() };
}

export type NumbersSubscription = ChannelSubscription<{ n: number }>;

/** Subscribes to the `numbers` stream `stream` and records what arrives. */
export function subscribeNumbers(client: TestClient<NumbersRouter>, stream: string): NumbersSubscription {
  return recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream }, handlers));
}

/** Subscribes to the presence events of `stream` and records them. */
export function subscribePresence(client: TestClient<NumbersRouter>, stream: string): RecordedSubscription<PresenceEvent<{ name: string }>> {
  type Event = PresenceEvent<{ name: string }>;
  return recordSubscription<Event>(
    (handlers) => client.trpc.presence.subscribe({ stream }, handlers as SubscriptionHandlers<Event>),
    { tracked: false },
  );
}

/** Deletes every key under `prefix` (what a test left in a shared Redis). Bounded scan. */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const admin = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    let cursor = '0';
    for (let round = 0; round < 1_000; round++) {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    admin.disconnect();
  }
}


/** The path of `name` on PATH (or in the sbin directories Debian puts daemons in), or null. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Finds a tool a test needs. Locally a missing tool skips the test, and this
 * prints why; in CI tests never skip, so the test runs and fails on it
 * (`.ci/run` installs the tools).
 */
export function findTool(name: string, why: string): string | null {
  const path = findExecutable(name);
  if (!path && !IN_CI) console.warn(`[tests] ${name} is not installed: ${why} is SKIPPED (apt-get install ${name})`);
  return path;
}

/** The tool `findTool` found, or the CI failure for a missing one. */
export function toolOrFail(path: string | null, name: string): string {
  if (!path) throw new Error(`${name} is not installed, and CI must not skip the test that needs it (.ci/run installs it)`);
  return path;
}

/**
 * Checks `check` every `intervalMs` until `deadline` (a `Date.now()` value)
 * and fails as soon as it does not hold: for "stays true" assertions, which
 * a single check after a sleep would only sample once.
 */
export async function holdsUntil(check: () => boolean | Promise<boolean>, deadline: number, label: string, intervalMs = 50): Promise<void> {
  for (let round = 0; round < 10_000; round++) {
    if (!(await check())) throw new Error(`${label}: stopped holding ${Math.max(0, deadline - Date.now())} ms before the deadline`);
    if (Date.now() >= deadline) return;
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, Math.max(1, deadline - Date.now()))));
  }
}

/** Sends one inline PING to a Redis on 127.0.0.1:`port`; true on +PONG. Bounded by `timeoutMs`. */
function redisPing(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

/** A redis-server child process of a test's own, without persistence, restartable on its port. */
export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  running(): boolean;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was persisted); resolves once it answers PING. */
  start(): Promise<void>;
  output(): string;
}

/** Starts `redis-server` on a spare 127.0.0.1 port; `cleanup` kills it. */
export async function startRedisServer(cleanup: Cleanup, redisServer: string): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  let child: ChildProcess | null = null;
  let output = '';
  let port = 0;

  async function launch(onPort: number): Promise<boolean> {
    const started = spawn(
      redisServer,
      ['--port', String(onPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) return false; // e.g. the port was taken meanwhile
      if (await redisPing(onPort)) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await kill(started);
    throw new Error(`redis-server on port ${onPort} did not answer within 5 s:\n${output}`);
  }

  cleanup.defer(async () => {
    if (child) await kill(child);
  });
  // A spare port can be taken between finding it and binding it: try a few.
  for (let attempt = 0; attempt < 5 && port === 0; attempt++) {
    const candidate = await freePort();
    if (await launch(candidate)) port = candidate;
  }
  if (port === 0) throw new Error(`redis-server did not start on a spare port:\n${output}`);

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    async kill() {
      if (child) await kill(child);
    },
    async start() {
      if (!(await launch(port))) throw new Error(`redis-server could not start again on port ${port}:\n${output}`);
    },
    output: () => output,
  };
}

/** The documented load balancer config, the single source the test renders. */
export const HAPROXY_CONFIG_PATH = join(ROOT, 'deploy/haproxy.cfg');

/**
 * Renders deploy/haproxy.cfg for a test: the one `bind` line listens on
 * `bind` instead, and the backend's `server` lines are replaced by one per
 * address in `servers`, each with the first server line's options. Everything
 * else (timeouts, balancing, health checks) stays as written.
 */
export function renderHaproxyConfig(template: string, options: { bind: string; servers: readonly string[] }): string {
  const lines = template.split('\n');
  const bindLines = lines.filter((line) => /^\s*bind\s+\S+/.test(line));
  if (bindLines.length !== 1) throw new Error(`haproxy.cfg must have exactly one bind line, found ${bindLines.length}`);
  const serverPattern = /^(\s*)server\s+(\S+)\s+(\S+)(.*)$/;
  const firstServer = lines.map((line) => serverPattern.exec(line)).find((match) => match !== null);
  if (!firstServer || options.servers.length === 0) throw new Error('haproxy.cfg must have a server line, and the test at least one server');
  const [, indent = '', , , serverOptions = ''] = firstServer;
  const rendered: string[] = [];
  let serversWritten = false;
  for (const line of lines) {
    if (/^\s*bind\s+\S+/.test(line)) {
      rendered.push(line.replace(/^(\s*bind\s+)\S+/, `$1${options.bind}`));
    } else if (serverPattern.test(line)) {
      if (serversWritten) continue;
      serversWritten = true;
      options.servers.forEach((address, i) => rendered.push(`${indent}server node${i + 1} ${address}${serverOptions}`));
    } else {
      rendered.push(line);
    }
  }
  return rendered.join('\n');
}

export interface HaproxyProcess {
  /** `ws://127.0.0.1:<port>/ws` through the balancer. */
  readonly url: string;
  readonly httpUrl: string;
  output(): string;
}

/** Starts `haproxy -f <rendered config> -db` in front of `nodes`; resolves once it proxies to a ready node. */
export async function startHaproxy(cleanup: Cleanup, haproxy: string, nodes: readonly HeraldNode[]): Promise<HaproxyProcess> {
  const port = await freePort();
  const config = renderHaproxyConfig(readFileSync(HAPROXY_CONFIG_PATH, 'utf8'), {
    bind: `127.0.0.1:${port}`,
    servers: nodes.map((node) => `127.0.0.1:${node.port}`),
  });
  const dir = mkdtempSync(join(tmpdir(), 'herald-haproxy-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, config);
  const child = spawn(haproxy, ['-f', configPath, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cleanup.defer(() => kill(child));
  const httpUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited with ${child.exitCode}:\n${output}\nconfig:\n${config}`);
      try {
        const response = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
        await response.body?.cancel();
        return response.status === 200;
      } catch {
        return false; // not listening yet
      }
    },
    5_000,
    'haproxy to proxy /readyz to a node',
  );
  return { url: `ws://127.0.0.1:${port}/ws`, httpUrl, output: () => output };
}
