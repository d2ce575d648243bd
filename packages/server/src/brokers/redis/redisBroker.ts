import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { GapReason } from '@herald/shared';
import type { Broker, BrokerEntry, ReadAfterResult, Retention } from '../broker.js';
import { compareStreamIds, formatStreamId, parseStreamId, type StreamId } from '../streamId.js';
import { connectRedis, isCluster } from './connections.js';
import { redisIdempotencyStore } from './idempotency.js';
import { redisPresence } from './presence.js';
import { SCRIPTS } from './scripts.js';

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
   * A command that takes longer fails with BROKER_UNAVAILABLE; Redis may
   * still run it when it answers again (a publish's error then says the
   * message may have been stored; a keyed mutation's retry with the same
   * key learns it). (On a Redis Cluster, calls made while the client first
   * connects wait up to 10 s for it, or this long if longer.)
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

/** How long one readiness probe's answer serves `ping` (and so `/readyz`): probes cost Redis one write per node per this long at most. */
const READY_PROBE_REUSE_MS = 1_000;
/** How long a readiness key outlives its last probe. */
const READY_KEY_TTL_MS = 10_000;

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
  const connections = connectRedis({
    url: options.url ?? redisBrokerDefaults.url,
    clusterUrls: options.clusterUrls,
    client: options.client,
    commandTimeoutMs,
    onError,
  });
  const { redis, pubsub, mode, call, runScript } = connections;
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
    /** The record of a publish made once (`PublishOnce`): its id. */
    published: (topic: string, tag: string) => `${prefix}:po:{${topic}}:${tag}`,
  };
  const presence = redisPresence({ connections, scripts, keys, presenceTtlMs });
  /** This broker's readiness key (`ping`): one per node, so probes of several nodes never contend. */
  const readyKey = `${prefix}:ready:${randomUUID()}`;
  let readyProbe: { readonly at: number; readonly promise: Promise<void> } | null = null;

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

  return {
    kind: 'redis',

    publish(topic, data, retention, once, trace) {
      // ARGV[6], the trace context, is stored beside the message (field `t`) and sent after its id on the live channel.
      const args = [data, retention.size, retention.ttlMs, keys.live(topic), once?.ttlMs ?? 0, trace ?? ''];
      const streamKeys = once ? [keys.stream(topic), keys.epoch(topic), keys.published(topic, once.tag)] : [keys.stream(topic), keys.epoch(topic)];
      return call('publish', () => runScript<string>(scripts.publish, streamKeys, args));
    },

    async subscribe(topic, listener) {
      return call('subscribe', () =>
        pubsub.subscribe(keys.live(topic), {
          onMessage: (message) => {
            // `<id>\n<data>`, or `<id> <trace>\n<data>` when the publish stored trace context.
            const split = message.indexOf('\n');
            if (split < 0) return;
            const space = message.indexOf(' ');
            const data = message.slice(split + 1);
            if (space < 0 || space > split) listener.onEntry({ id: message.slice(0, split), data });
            else listener.onEntry({ id: message.slice(0, space), data, trace: message.slice(space + 1, split) });
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

    presence: presence.store,
    idempotency: redisIdempotencyStore(connections, (key) => `${prefix}:idem:${key}`),

    ping() {
      // A write, not a PING: a Redis out of memory (noeviction), a read-only
      // replica or a cluster that is down all answer PING and refuse every
      // write. One probe serves every caller for READY_PROBE_REUSE_MS.
      const now = Date.now();
      if (!readyProbe || now - readyProbe.at >= READY_PROBE_REUSE_MS) {
        const promise = call('readiness write', () => redis.set(readyKey, '1', 'PX', READY_KEY_TTL_MS)).then(() => undefined);
        promise.catch(() => undefined);
        readyProbe = { at: now, promise };
      }
      return readyProbe.promise;
    },

    async close() {
      await connections.close(() => presence.close());
    },
  };
}

function fieldValue(fields: string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
  return '';
}
