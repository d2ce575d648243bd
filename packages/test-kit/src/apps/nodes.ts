/**
 * Herald processes a test can SIGKILL: nodes of the numbers app on the Redis
 * broker (fixtures/numbersNode.ts), and bare broker members of a presence
 * topic (fixtures/presenceNode.ts). Everything listens on 127.0.0.1 only.
 */
import type { ChildProcess } from 'node:child_process';
import type { Cleanup } from '../cleanup.js';
import { kill, spawnTs } from '../spawn.js';

const NUMBERS_NODE = 'packages/test-kit/src/fixtures/numbersNode.ts';
const PRESENCE_NODE = 'packages/test-kit/src/fixtures/presenceNode.ts';

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
  /** One Redis's URL, or a Redis Cluster's seed node URLs joined with commas (`RedisCluster.seeds`). */
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
    NUMBERS_NODE,
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
export async function getHealth(node: { readonly httpUrl: string }, path: '/healthz' | '/readyz', timeoutMs = 3_000): Promise<HealthReply> {
  const response = await fetch(`${node.httpUrl}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: (await response.json()) as HealthReply['body'] };
}

/**
 * A process whose Redis broker joins presence for `clientId` on `topic` and
 * then does nothing until it is killed (it never leaves). Resolves once it
 * has joined.
 */
export async function startPresenceNode(options: {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly topic: string;
  readonly clientId: string;
  readonly presenceTtlMs: number;
}): Promise<ChildProcess> {
  const { child } = await spawnTs(
    PRESENCE_NODE,
    [options.redisUrl, options.prefix, options.topic, options.clientId, String(options.presenceTtlMs)],
    { ready: /joined/ },
  );
  return child;
}
