import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { GapReason } from '@herald/shared';
import type {
  Broker,
  BrokerEntry,
  PresenceChange,
  PresenceRecord,
  PresenceStore,
  ReadAfterResult,
  Retention,
} from '../broker.js';
import { BrokerUnavailableError } from '../errors.js';
import { compareStreamIds, formatStreamId, parseStreamId, type StreamId } from '../streamId.js';
import { redisIdempotencyStore } from './idempotency.js';
import { PubSub, type TopicPubSub } from './pubsub.js';
import { SCRIPTS } from './scripts.js';
import { ShardedPubSub } from './shardedPubSub.js';

/** Options of `redisBroker`: where Redis (or a Redis Cluster) is, the key prefix, presence expiry and command timeouts. */
export interface RedisBrokerOptions {
  /** `redis://host:port/db`. Ignored when `clusterUrls` or `client` is given. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /**
   * Seed nodes of a Redis Cluster (Redis 7 or later), `redis://host:port`:
   * any few of its nodes, the client learns the rest. With it the broker keeps
   * each topic's keys in one hash slot and uses sharded pub/sub (`SPUBLISH`,
   * `SSUBSCRIBE`), so a publish goes to the one shard that owns its topic
   * (docs/scaling.md, "Redis Cluster").
   * Ignored when `client` is given.
   * @default undefined (one Redis, at `url`)
   */
  clusterUrls?: readonly string[];
  /**
   * An ioredis client to use for commands: a `Redis` (the broker
   * `duplicate()`s it for pub/sub) or a `Cluster` (cluster mode; the broker
   * opens its own subscriber connection per master, with the cluster's
   * `redisOptions`). The broker does not close a client it was given.
   * @default undefined (the broker connects to `clusterUrls` or `url`)
   */
  client?: Redis | Cluster;
  /** Prefix of every key and channel, so several apps can share one Redis. @default 'herald' */
  prefix?: string;
  /**
   * How long a presence entry lives without its node refreshing it; entries of
   * a node that died disappear (with a leave event) after at most this long.
   * @default 15_000
   */
  presenceTtlMs?: number;
  /**
   * A command that takes longer fails with BROKER_UNAVAILABLE. (On a Redis
   * Cluster, calls made while the client first connects wait up to 10 s for
   * it, or this long if longer.)
   * @default 2_000
   */
  commandTimeoutMs?: number;
  /** Errors with no caller to reach (pub/sub payloads, background refreshes). @default console.error */
  onError?: (error: unknown) => void;
}

/** The defaults of `RedisBrokerOptions`, merged under the options passed. */
export const redisBrokerDefaults = {
  url: 'redis://127.0.0.1:6379',
  prefix: 'herald',
  presenceTtlMs: 15_000,
  commandTimeoutMs: 2_000,
} as const;

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
    maxRedirections: Math.max(2, Math.floor(commandTimeoutMs / 200)),
    slotsRefreshTimeout: Math.min(1_000, commandTimeoutMs),
    redisOptions: { ...connectionOptions(commandTimeoutMs), lazyConnect: false },
  };
}

function clusterNode(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 6379) };
}

/** The commands connection, live delivery, and how to start and stop them, for one Redis or a cluster. */
interface Connections {
  readonly mode: 'single' | 'cluster';
  readonly redis: Redis | Cluster;
  readonly pubsub: TopicPubSub;
  readonly connecting: Promise<unknown>;
  disconnect(): void;
}

function singleRedis(options: RedisBrokerOptions, redis: Redis, commandTimeoutMs: number, onError: (error: unknown) => void): Connections {
  const ownsClient = !options.client;
  const subscriber = redis.duplicate({ ...connectionOptions(commandTimeoutMs), enableOfflineQueue: true });
  subscriber.on('error', () => undefined);
  return {
    mode: 'single',
    redis,
    pubsub: new PubSub(subscriber, onError),
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

function redisCluster(options: RedisBrokerOptions, cluster: Cluster, commandTimeoutMs: number, onError: (error: unknown) => void): Connections {
  const ownsClient = !options.client;
  const pubsub = new ShardedPubSub(
    cluster,
    { ...connectionOptions(commandTimeoutMs), ...cluster.options.redisOptions, commandTimeout: commandTimeoutMs },
    onError,
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

/** The largest sequence number a position may carry (a safe integer, well inside Redis's 64 bits). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * Several Herald processes behave as one server on a shared Redis:
 * history in Streams (ids are stream ids, so every node agrees on the order
 * and they survive any node's restart), live fan-out with pub/sub (one Redis
 * subscription per topic per node), presence in a sorted set with TTLs.
 * On a Redis Cluster (`clusterUrls`) every key and channel of a topic shares
 * the topic's hash slot, each script touches that slot only, and live
 * delivery uses sharded pub/sub.
 */
export function redisBroker(options: RedisBrokerOptions = {}): Broker {
  const prefix = options.prefix ?? redisBrokerDefaults.prefix;
  const presenceTtlMs = options.presenceTtlMs ?? redisBrokerDefaults.presenceTtlMs;
  const commandTimeoutMs = options.commandTimeoutMs ?? redisBrokerDefaults.commandTimeoutMs;
  const onError = options.onError ?? ((error: unknown) => console.error('[herald:redis]', error));
  const clusterMode = options.clusterUrls !== undefined || (options.client !== undefined && isCluster(options.client));
  if (clusterMode && /[{}]/.test(prefix)) {
    throw new TypeError(`redisBroker: the prefix '${prefix}' has a brace; on a Redis Cluster braces are the topic's hash tag. Pick a prefix without { or }.`);
  }
  const connections = connect(options, commandTimeoutMs, onError);
  const { redis, pubsub, mode } = connections;
  // Without listeners ioredis prints every reconnect error; outages surface through calls instead.
  redis.on('error', () => undefined);
  const scripts = SCRIPTS[mode];
  const keys = {
    /**
     * When the data began (Redis time, minus 1 ms so the head of an empty
     * topic read at that moment is not before it). Positions older than the
     * epoch refer to data Redis no longer has (a restart without persistence,
     * a flush; on a cluster also a failover). One Redis: one key for the
     * prefix. Cluster: one per topic, in its slot (scripts.ts, TOPIC_EPOCH).
     */
    epoch: (topic: string) => (mode === 'single' ? `${prefix}:epoch` : `${prefix}:e:{${topic}}`),
    stream: (topic: string) => `${prefix}:s:{${topic}}`,
    live: (topic: string) => `${prefix}:l:{${topic}}`,
    members: (topic: string) => `${prefix}:pm:{${topic}}`,
    records: (topic: string) => `${prefix}:pr:{${topic}}`,
    presenceEvents: (topic: string) => `${prefix}:pe:{${topic}}`,
  };
  let closed = false;
  const connecting = connections.connecting.catch(() => undefined);

  async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (closed) throw new BrokerUnavailableError('The Redis broker is closed');
    await connecting;
    if (redis.status !== 'ready') {
      throw new BrokerUnavailableError(`Redis is not reachable (connection ${redis.status}); ${what} did not happen`);
    }
    try {
      return await run();
    } catch (error) {
      throw new BrokerUnavailableError(`Redis ${what} failed: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * EVALSHA, so Redis neither receives nor hashes the script's text on every
   * call; a Redis that does not have it cached (a restart, a failover, a new
   * shard) answers NOSCRIPT, and the text follows once with EVAL.
   */
  const shas = new Map<string, string>();
  const runScript = async <T>(script: string, keyList: string[], args: (string | number)[]): Promise<T> => {
    let sha = shas.get(script);
    if (!sha) shas.set(script, (sha = createHash('sha1').update(script).digest('hex')));
    try {
      return (await redis.evalsha(sha, keyList.length, ...keyList, ...args)) as T;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return (await redis.eval(script, keyList.length, ...keyList, ...args)) as T;
    }
  };

  type ReadReply = [string, string, number, string, string, [string, string[]][]];

  async function read(topic: string, what: 'after' | 'latest', position: string, count: number, retention: Retention) {
    const [now, epoch, exists, lastGenerated, maxDeleted, rawEntries] = await call('history read', () =>
      runScript<ReadReply>(scripts.read, [keys.stream(topic), keys.epoch(topic)], [what, position, count, retention.ttlMs]),
    );
    const nowMs = Number(now);
    const entries: BrokerEntry[] = rawEntries.map(([id, fields]) => ({ id, data: fieldValue(fields, 'd') }));
    // The head of a topic with no stream is "just before now": every id
    // Redis issues from here on is greater, and none before it exists.
    const head = exists === 1 && lastGenerated ? lastGenerated : formatStreamId({ ms: nowMs - 1, seq: MAX_SEQ });
    return {
      nowMs,
      epoch: { ms: Number(epoch), seq: 0 },
      exists: exists === 1,
      head,
      maxDeleted: maxDeleted ? parseStreamId(maxDeleted) : null,
      entries,
    };
  }

  /**
   * Whether history can prove that nothing after `position` was lost. A stream
   * key expires `ttlMs` after its last publish, so any stream that ever held an
   * id after a position younger than `ttlMs` still exists; for older positions
   * that cannot be proven and the answer is `expired`.
   */
  function gapFor(position: StreamId, snapshot: Awaited<ReturnType<typeof read>>, retention: Retention): GapReason | null {
    if (compareStreamIds(position, snapshot.epoch) < 0) return 'reset';
    const head = parseStreamId(snapshot.head);
    if (head && compareStreamIds(position, head) > 0) return 'unknown-position';
    const aged = position.ms < snapshot.nowMs - retention.ttlMs;
    if (snapshot.maxDeleted && compareStreamIds(position, snapshot.maxDeleted) < 0) return aged ? 'expired' : 'trimmed';
    if (aged) return 'expired';
    return null;
  }

  // Presence entries this node holds, refreshed before their TTL runs out.
  const localPresence = new Map<string, Map<string, PresenceRecord>>();
  const presenceTimer = setInterval(refreshPresence, Math.max(100, Math.floor(presenceTtlMs / 3)));
  presenceTimer.unref();
  const presenceSweepTopics = new Map<string, number>();

  function refreshPresence(): void {
    for (const [topic, records] of localPresence) {
      if (records.size === 0) continue;
      const args: string[] = [String(presenceTtlMs), keys.presenceEvents(topic)];
      for (const record of records.values()) {
        args.push(record.clientId, JSON.stringify(record), JSON.stringify({ type: 'join', record } satisfies PresenceChange));
      }
      call('presence refresh', () => runScript(scripts.presenceRefresh, [keys.members(topic), keys.records(topic)], args)).catch(
        () => undefined, // Retried on the next tick; entries outlive a short outage by the TTL.
      );
    }
    // Listing sweeps the entries of dead nodes, announcing their leave.
    for (const topic of presenceSweepTopics.keys()) presence.list(topic).catch(() => undefined);
  }

  const presence: PresenceStore = {
    async join(topic, record) {
      let records = localPresence.get(topic);
      if (!records) localPresence.set(topic, (records = new Map()));
      records.set(record.clientId, record);
      await call('presence join', () =>
        runScript(
          scripts.presenceJoin,
          [keys.members(topic), keys.records(topic)],
          [record.clientId, JSON.stringify(record), presenceTtlMs, keys.presenceEvents(topic), JSON.stringify({ type: 'join', record })],
        ),
      );
    },
    async leave(topic, clientId) {
      const records = localPresence.get(topic);
      records?.delete(clientId);
      if (records?.size === 0) localPresence.delete(topic);
      await call('presence leave', () =>
        runScript(
          scripts.presenceLeave,
          [keys.members(topic), keys.records(topic)],
          [clientId, keys.presenceEvents(topic), JSON.stringify({ type: 'leave', clientId })],
        ),
      );
    },
    async list(topic) {
      const raw = await call('presence list', () =>
        runScript<string[]>(scripts.presenceList, [keys.members(topic), keys.records(topic)], [keys.presenceEvents(topic)]),
      );
      return raw.map((text) => JSON.parse(text) as PresenceRecord);
    },
    async subscribe(topic, listener) {
      presenceSweepTopics.set(topic, (presenceSweepTopics.get(topic) ?? 0) + 1);
      try {
        const unsubscribe = await call('presence subscribe', () =>
          pubsub.subscribe(keys.presenceEvents(topic), {
            onMessage: (message) => listener.onEvent(JSON.parse(message) as PresenceChange),
            onInterrupted: () => listener.onInterrupted(),
          }),
        );
        return async () => {
          releaseSweep(topic);
          await unsubscribe();
        };
      } catch (error) {
        releaseSweep(topic);
        throw error;
      }
    },
  };

  function releaseSweep(topic: string): void {
    const count = (presenceSweepTopics.get(topic) ?? 1) - 1;
    if (count <= 0) presenceSweepTopics.delete(topic);
    else presenceSweepTopics.set(topic, count);
  }

  return {
    kind: 'redis',

    publish(topic, data, retention) {
      return call('publish', () =>
        runScript<string>(scripts.publish, [keys.stream(topic), keys.epoch(topic)], [data, retention.size, retention.ttlMs, keys.live(topic)]),
      );
    },

    async subscribe(topic, listener) {
      return call('subscribe', () =>
        pubsub.subscribe(keys.live(topic), {
          onMessage: (message) => {
            const split = message.indexOf('\n');
            if (split < 0) return;
            listener.onEntry({ id: message.slice(0, split), data: message.slice(split + 1) });
          },
          onInterrupted: () => listener.onInterrupted(),
        }),
      );
    },

    async readAfter(topic, after, retention): Promise<ReadAfterResult> {
      const position = after === null ? null : parseStreamId(after);
      const snapshot = await read(topic, 'after', position ? formatStreamId(position) : '', retention.size, retention);
      if (after === null) return { entries: [], head: snapshot.head, gap: null };
      if (!position) return { entries: [], head: snapshot.head, gap: 'unknown-position' };
      const gap = gapFor(position, snapshot, retention);
      if (gap === 'reset') {
        // Everything stored since the reset is newer than anything this
        // subscriber saw, so it is replayed after the notice. Skipping to the
        // head would drop acknowledged publishes that reached the new Redis
        // before this node's subscription came back.
        const since = await read(topic, 'after', formatStreamId(snapshot.epoch), retention.size, retention);
        return { entries: since.entries, head: since.entries.at(-1)?.id ?? since.head, gap };
      }
      if (gap) return { entries: [], head: snapshot.head, gap };
      const last = snapshot.entries.at(-1)?.id;
      return { entries: snapshot.entries, head: last ?? snapshot.head, gap: null };
    },

    async readLatest(topic, limit, retention) {
      const snapshot = await read(topic, 'latest', '', Math.max(0, limit), retention);
      // Entries past the age bound linger until the next publish trims them.
      const oldest = snapshot.nowMs - retention.ttlMs;
      const entries = snapshot.entries.filter((entry) => (parseStreamId(entry.id)?.ms ?? 0) >= oldest).reverse();
      return { entries, head: snapshot.head };
    },

    async historyLength(topic) {
      return call('xlen', () => redis.xlen(keys.stream(topic)));
    },

    presence,
    idempotency: redisIdempotencyStore(redis, (key) => `${prefix}:idem:${key}`, call),

    async ping() {
      await call('ping', () => redis.ping());
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(presenceTimer);
      const leaving = [...localPresence].flatMap(([topic, records]) =>
        [...records.keys()].map((clientId) =>
          runScript(
            scripts.presenceLeave,
            [keys.members(topic), keys.records(topic)],
            [clientId, keys.presenceEvents(topic), JSON.stringify({ type: 'leave', clientId })],
          ).catch(() => undefined),
        ),
      );
      await Promise.all(leaving);
      localPresence.clear();
      connections.disconnect();
    },
  };
}

/** `isCluster` rather than instanceof: the app's ioredis may be another copy than the one this module loads. */
function isCluster(client: Redis | Cluster): client is Cluster {
  return client.isCluster;
}

function connect(options: RedisBrokerOptions, commandTimeoutMs: number, onError: (error: unknown) => void): Connections {
  const client = options.client;
  if (client && isCluster(client)) return redisCluster(options, client, commandTimeoutMs, onError);
  if (client) return singleRedis(options, client, commandTimeoutMs, onError);
  if (options.clusterUrls) {
    if (options.clusterUrls.length === 0) throw new TypeError('redisBroker: clusterUrls is empty; give at least one node of the Redis Cluster (redis://host:port)');
    return redisCluster(options, new Cluster(options.clusterUrls.map(clusterNode), clusterOptions(commandTimeoutMs)), commandTimeoutMs, onError);
  }
  return singleRedis(options, new Redis(options.url ?? redisBrokerDefaults.url, connectionOptions(commandTimeoutMs)), commandTimeoutMs, onError);
}

function fieldValue(fields: string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
  return '';
}
