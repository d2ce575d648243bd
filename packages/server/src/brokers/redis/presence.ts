import type { PresenceChange, PresenceRecord, PresenceStore } from '../broker.js';
import type { RedisConnections } from './connections.js';
import type { RedisScripts } from './scripts.js';

/** The keys and channel of one topic's presence, in the topic's hash slot. */
export interface PresenceKeys {
  /** Sorted set: client id by expiry. */
  members(topic: string): string;
  /** Hash: client id to its record. */
  records(topic: string): string;
  /** Pub/sub channel of join and leave events. */
  presenceEvents(topic: string): string;
}

export interface RedisPresenceOptions {
  readonly connections: Pick<RedisConnections, 'call' | 'runScript' | 'pubsub'>;
  readonly scripts: RedisScripts;
  readonly keys: PresenceKeys;
  readonly presenceTtlMs: number;
}

/** Presence in Redis, and the entries this node holds there. */
export interface RedisPresence {
  readonly store: PresenceStore;
  /** Stops refreshing and removes this node's entries (with their leave events). */
  close(): Promise<void>;
}

/**
 * Presence in a sorted set with TTLs: this node refreshes its own entries
 * before they expire, so the entries of a node that died disappear (with a
 * leave event) once their TTL has passed, swept by any node listing the topic.
 */
export function redisPresence({ connections, scripts, keys, presenceTtlMs }: RedisPresenceOptions): RedisPresence {
  const { call, runScript, pubsub } = connections;
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
    for (const topic of presenceSweepTopics.keys()) store.list(topic).catch(() => undefined);
  }

  function leaveScript(topic: string, clientId: string): Promise<unknown> {
    return runScript(
      scripts.presenceLeave,
      [keys.members(topic), keys.records(topic)],
      [clientId, keys.presenceEvents(topic), JSON.stringify({ type: 'leave', clientId })],
    );
  }

  const store: PresenceStore = {
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
      await call('presence leave', () => leaveScript(topic, clientId));
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
    store,
    async close() {
      clearInterval(presenceTimer);
      const leaving = [...localPresence].flatMap(([topic, records]) =>
        [...records.keys()].map((clientId) => leaveScript(topic, clientId).catch(() => undefined)),
      );
      await Promise.all(leaving);
      localPresence.clear();
    },
  };
}
