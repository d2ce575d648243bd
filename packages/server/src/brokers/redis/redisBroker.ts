import { Redis, type RedisOptions } from 'ioredis';
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
import { PubSub } from './pubsub.js';
import {
  PRESENCE_JOIN_SCRIPT,
  PRESENCE_LEAVE_SCRIPT,
  PRESENCE_LIST_SCRIPT,
  PRESENCE_REFRESH_SCRIPT,
  PUBLISH_SCRIPT,
  READ_SCRIPT,
} from './scripts.js';

/** Options of `redisBroker`: where Redis is, the key prefix, presence expiry and command timeouts. */
export interface RedisBrokerOptions {
  /** `redis://host:port/db`. Ignored when `client` is given. @default 'redis://127.0.0.1:6379' */
  url?: string;
  /**
   * An ioredis client to use for commands; the broker `duplicate()`s it for
   * pub/sub. The broker does not close a client it was given.
   */
  client?: Redis;
  /** Prefix of every key and channel, so several apps can share one Redis. @default 'herald' */
  prefix?: string;
  /**
   * How long a presence entry lives without its node refreshing it; entries of
   * a node that died disappear (with a leave event) after at most this long.
   * @default 15_000
   */
  presenceTtlMs?: number;
  /** A command that takes longer fails with BROKER_UNAVAILABLE. @default 2_000 */
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

/** The largest sequence number a position may carry (a safe integer, well inside Redis's 64 bits). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/**
 * Several Herald processes behave as one server on a shared Redis:
 * history in Streams (ids are stream ids, so every node agrees on the order
 * and they survive any node's restart), live fan-out with pub/sub (one Redis
 * subscription per topic per node), presence in a sorted set with TTLs.
 * Redis Cluster is not supported (the scripts touch keys of several slots).
 */
export function redisBroker(options: RedisBrokerOptions = {}): Broker {
  const prefix = options.prefix ?? redisBrokerDefaults.prefix;
  const presenceTtlMs = options.presenceTtlMs ?? redisBrokerDefaults.presenceTtlMs;
  const commandTimeoutMs = options.commandTimeoutMs ?? redisBrokerDefaults.commandTimeoutMs;
  const onError = options.onError ?? ((error: unknown) => console.error('[herald:redis]', error));
  const ownsClient = !options.client;
  const redis = options.client ?? new Redis(options.url ?? redisBrokerDefaults.url, connectionOptions(commandTimeoutMs));
  const subscriber = redis.duplicate({ ...connectionOptions(commandTimeoutMs), enableOfflineQueue: true });
  // Without listeners ioredis prints every reconnect error; outages surface through calls instead.
  redis.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  const pubsub = new PubSub(subscriber, onError);
  // When this prefix's data began (Redis time, minus 1 ms so the head of an
  // empty topic read at that moment is not before it). Positions older than the
  // epoch refer to data Redis no longer has (a restart without persistence, a flush).
  const epochKey = `${prefix}:epoch`;
  const keys = {
    stream: (topic: string) => `${prefix}:s:{${topic}}`,
    live: (topic: string) => `${prefix}:l:{${topic}}`,
    members: (topic: string) => `${prefix}:pm:{${topic}}`,
    records: (topic: string) => `${prefix}:pr:{${topic}}`,
    presenceEvents: (topic: string) => `${prefix}:pe:{${topic}}`,
  };
  let closed = false;
  const connecting = Promise.all([
    redis.status === 'wait' ? redis.connect() : Promise.resolve(),
    subscriber.status === 'wait' ? subscriber.connect() : Promise.resolve(),
  ]).catch(() => undefined);

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

  const runScript = <T>(script: string, keyList: string[], args: (string | number)[]) =>
    redis.eval(script, keyList.length, ...keyList, ...args) as Promise<T>;

  type ReadReply = [string, string, number, string, string, [string, string[]][]];

  async function read(topic: string, mode: 'after' | 'latest', position: string, count: number) {
    const [now, epoch, exists, lastGenerated, maxDeleted, rawEntries] = await call('history read', () =>
      runScript<ReadReply>(READ_SCRIPT, [keys.stream(topic), epochKey], [mode, position, count]),
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
      call('presence refresh', () => runScript(PRESENCE_REFRESH_SCRIPT, [keys.members(topic), keys.records(topic)], args)).catch(
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
          PRESENCE_JOIN_SCRIPT,
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
          PRESENCE_LEAVE_SCRIPT,
          [keys.members(topic), keys.records(topic)],
          [clientId, keys.presenceEvents(topic), JSON.stringify({ type: 'leave', clientId })],
        ),
      );
    },
    async list(topic) {
      const raw = await call('presence list', () =>
        runScript<string[]>(PRESENCE_LIST_SCRIPT, [keys.members(topic), keys.records(topic)], [keys.presenceEvents(topic)]),
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
        runScript<string>(PUBLISH_SCRIPT, [keys.stream(topic), epochKey], [data, retention.size, retention.ttlMs, keys.live(topic)]),
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
      const snapshot = await read(topic, 'after', position ? formatStreamId(position) : '', retention.size);
      if (after === null) return { entries: [], head: snapshot.head, gap: null };
      if (!position) return { entries: [], head: snapshot.head, gap: 'unknown-position' };
      const gap = gapFor(position, snapshot, retention);
      if (gap === 'reset') {
        // Everything stored since the reset is newer than anything this
        // subscriber saw, so it is replayed after the notice. Skipping to the
        // head would drop acknowledged publishes that reached the new Redis
        // before this node's subscription came back.
        const since = await read(topic, 'after', formatStreamId(snapshot.epoch), retention.size);
        return { entries: since.entries, head: since.entries.at(-1)?.id ?? since.head, gap };
      }
      if (gap) return { entries: [], head: snapshot.head, gap };
      const last = snapshot.entries.at(-1)?.id;
      return { entries: snapshot.entries, head: last ?? snapshot.head, gap: null };
    },

    async readLatest(topic, limit, retention) {
      const snapshot = await read(topic, 'latest', '', Math.max(0, limit));
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
            PRESENCE_LEAVE_SCRIPT,
            [keys.members(topic), keys.records(topic)],
            [clientId, keys.presenceEvents(topic), JSON.stringify({ type: 'leave', clientId })],
          ).catch(() => undefined),
        ),
      );
      await Promise.all(leaving);
      localPresence.clear();
      subscriber.disconnect();
      if (ownsClient) redis.disconnect();
    },
  };
}

function fieldValue(fields: string[], name: string): string {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string;
  return '';
}
