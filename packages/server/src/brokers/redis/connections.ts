import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { BrokerUnavailableError } from '../errors.js';
import { tracedBrokerCall } from '../../observability/tracing.js';
import { PubSub } from './pubsub.js';
import type { RedisMode } from './scripts.js';
import { ShardedPubSub } from './shardedPubSub.js';
import type { TopicPubSub } from './topicPubSub.js';

/** Where the broker's connections go: `redisBroker`'s options, resolved. */
export interface RedisConnectionOptions {
  /** One Redis, used when neither `clusterUrls` nor `client` is given. */
  readonly url: string;
  readonly clusterUrls?: readonly string[];
  /** A client of the app's: never closed here. */
  readonly client?: Redis | Cluster;
  readonly commandTimeoutMs: number;
  readonly onError: (error: unknown) => void;
}

/**
 * The broker's connections to one Redis or a Redis Cluster: the commands
 * client, live delivery over pub/sub, and their lifecycle (first connect,
 * calls that fail fast while Redis is away, close).
 */
export interface RedisConnections {
  readonly mode: RedisMode;
  /** The commands client. */
  readonly redis: Redis | Cluster;
  readonly pubsub: TopicPubSub;
  /**
   * Runs `run` once the first connect has settled. It fails with
   * BROKER_UNAVAILABLE, naming `what`, when the broker is closed, Redis is not
   * connected, or the command fails.
   */
  call<T>(what: string, run: () => Promise<T>): Promise<T>;
  /**
   * EVALSHA, so Redis neither receives nor hashes the script's text on every
   * call; a Redis that does not have it cached (a restart, a failover, a new
   * shard) answers NOSCRIPT, and the text follows once with EVAL.
   */
  runScript<T>(script: string, keys: string[], args: (string | number)[]): Promise<T>;
  /**
   * Once: calls fail from now on, `lastWords` runs (its scripts still reach
   * Redis), then the connections this broker opened close (a client it was
   * given stays open).
   */
  close(lastWords: () => Promise<void>): Promise<void>;
}

/** ioredis settings that make an outage fail fast instead of queueing work forever. */
function connectionOptions(commandTimeoutMs: number): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: commandTimeoutMs,
    connectTimeout: commandTimeoutMs,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    lazyConnect: true,
  };
}

/** Cluster client settings in the same spirit: a command to a master that is gone fails within the timeout. */
function clusterOptions(commandTimeoutMs: number): ClusterOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    // Redirections and the retries of a command whose master went away stay within about one command timeout.
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    // During a failover nodes disagree about a slot for a moment, and a MOVED
    // resent at once can bounce between them until `maxRedirections` runs out
    // ("Too many Cluster redirections"); spaced out, the redirections span
    // about one command timeout, time for the new master to be known.
    retryDelayOnMoved: 100,
    maxRedirections: Math.max(2, Math.floor(commandTimeoutMs / 200)),
    slotsRefreshTimeout: Math.min(1_000, commandTimeoutMs),
    redisOptions: { ...connectionOptions(commandTimeoutMs), lazyConnect: false },
  };
}

function clusterNode(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) };
}

/** The clients of one mode, before the lifecycle around them. */
interface Clients {
  readonly mode: RedisMode;
  readonly redis: Redis | Cluster;
  readonly pubsub: TopicPubSub;
  readonly connecting: Promise<unknown>;
  disconnect(): void;
}

function singleRedis(options: RedisConnectionOptions, redis: Redis): Clients {
  const ownsClient = !options.client;
  const subscriber = redis.duplicate({ ...connectionOptions(options.commandTimeoutMs), enableOfflineQueue: true });
  subscriber.on('error', () => undefined);
  return {
    mode: 'single',
    redis,
    pubsub: new PubSub(subscriber, options.onError),
    connecting: Promise.all([
      redis.status === 'wait' ? redis.connect() : Promise.resolve(),
      subscriber.status === 'wait' ? subscriber.connect() : Promise.resolve(),
    ]),
    disconnect() {
      subscriber.disconnect();
      if (ownsClient) redis.disconnect();
    },
  };
}

/**
 * How long calls made while a cluster client first connects wait for it
 * (at least the command timeout). A first connection asks a node for the
 * slot map and then connects to every master, several round trips that a
 * busy or just-started cluster (or a busy node) can stretch past one
 * command timeout; a client that fails its first try retries with backoff,
 * and failing the calls in between would fail a node's start (its
 * revocation subscription) for a cluster that answers a moment later. Once
 * the client has been ready, calls fail fast again.
 */
const CLUSTER_FIRST_CONNECT_MS = 10_000;

/**
 * Resolves once the cluster client is ready, has ended, or `timeoutMs` passed.
 * `Cluster.connect()`'s own promise is not used: ioredis 5.11 sometimes
 * leaves it pending after reaching `ready` (a connect retried internally).
 */
function clusterReady(cluster: Cluster, timeoutMs: number): Promise<void> {
  if (cluster.status === 'wait') cluster.connect().catch(() => undefined);
  if (cluster.status === 'ready') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      cluster.off('ready', done);
      cluster.off('end', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    cluster.on('ready', done);
    cluster.on('end', done);
  });
}

function redisCluster(options: RedisConnectionOptions, cluster: Cluster): Clients {
  const { commandTimeoutMs } = options;
  const ownsClient = !options.client;
  const pubsub = new ShardedPubSub(
    cluster,
    { ...connectionOptions(commandTimeoutMs), ...cluster.options.redisOptions, commandTimeout: commandTimeoutMs },
    options.onError,
  );
  return {
    mode: 'cluster',
    redis: cluster,
    pubsub,
    connecting: clusterReady(cluster, Math.max(commandTimeoutMs, CLUSTER_FIRST_CONNECT_MS)),
    disconnect() {
      pubsub.close();
      if (ownsClient) cluster.disconnect();
    },
  };
}

/** `isCluster` rather than instanceof: the app's ioredis may be another copy than the one this module loads. */
export function isCluster(client: Redis | Cluster): client is Cluster {
  return client.isCluster;
}

function clientsFor(options: RedisConnectionOptions): Clients {
  const { client, clusterUrls, commandTimeoutMs } = options;
  if (client && isCluster(client)) return redisCluster(options, client);
  if (client) return singleRedis(options, client);
  if (clusterUrls) {
    if (clusterUrls.length === 0) throw new TypeError('redisBroker: clusterUrls is empty; give at least one node of the Redis Cluster (redis://host:port)');
    return redisCluster(options, new Cluster(clusterUrls.map(clusterNode), clusterOptions(commandTimeoutMs)));
  }
  return singleRedis(options, new Redis(options.url, connectionOptions(commandTimeoutMs)));
}

/** Opens the broker's connections (a given `client`'s mode decides which kind) and starts connecting. */
export function connectRedis(options: RedisConnectionOptions): RedisConnections {
  const clients = clientsFor(options);
  const { redis } = clients;
  // Without listeners ioredis prints every reconnect error; outages surface through calls instead.
  redis.on('error', () => undefined);
  let closed = false;
  const connecting = clients.connecting.catch(() => undefined);

  /** A round trip to Redis, as a span of its own when an OpenTelemetry SDK records them. */
  function call<T>(what: string, run: () => Promise<T>): Promise<T> {
    return tracedBrokerCall('redis', what, () => untracedCall(what, run));
  }

  async function untracedCall<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (closed) throw new BrokerUnavailableError('The Redis broker is closed', { closed: true });
    await connecting;
    if (redis.status !== 'ready') {
      throw new BrokerUnavailableError(`Redis is not reachable (connection ${redis.status}); ${what} did not happen`);
    }
    try {
      return await run();
    } catch (error) {
      // An error reply (OOM, READONLY, CLUSTERDOWN...) is Redis refusing the
      // command; anything else (a timeout, a connection lost mid-command)
      // leaves it sent and unanswered: Redis may run it yet. (By name: a
      // client the app gave may come from another copy of ioredis.)
      throw new BrokerUnavailableError(`Redis ${what} failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
        outcomeUnknown: !(error instanceof Error && error.name === 'ReplyError'),
      });
    }
  }

  const shas = new Map<string, string>();
  async function runScript<T>(script: string, keyList: string[], args: (string | number)[]): Promise<T> {
    let sha = shas.get(script);
    if (!sha) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    try {
      return (await redis.evalsha(sha, keyList.length, ...keyList, ...args)) as T;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await redis.eval(script, keyList.length, ...keyList, ...args)) as T;
    }
  }

  return {
    mode: clients.mode,
    redis,
    pubsub: clients.pubsub,
    call,
    runScript,
    async close(lastWords) {
      if (closed) return;
      closed = true;
      await lastWords();
      clients.disconnect();
    },
  };
}
