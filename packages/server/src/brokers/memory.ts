import type { GapReason } from '@herald/shared';
import { BrokerUnavailableError } from './errors.js';
import { memoryIdempotencyStore } from './idempotency.js';
import type {
  Broker,
  BrokerEntry,
  PresenceChange,
  PresenceListener,
  PresenceRecord,
  PresenceStore,
  ReadAfterResult,
  ReadLatestResult,
  Retention,
  TopicListener,
  Unsubscribe,
} from './broker.js';
import { compareStreamIds, formatStreamId, nextStreamId, parseStreamId, type StreamId } from './streamId.js';

/** Options of `memoryBroker`, the broker of a single process. */
export interface MemoryBrokerOptions {
  /**
   * How often idle topics are swept: expired history dropped, and topics with
   * no history and no subscribers forgotten.
   * @default 30_000
   */
  sweepIntervalMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** The defaults of `MemoryBrokerOptions`, merged under the options passed. */
export const memoryBrokerDefaults = {
  sweepIntervalMs: 30_000,
  now: Date.now,
} satisfies Required<MemoryBrokerOptions>;

interface StoredEntry extends BrokerEntry {
  readonly streamId: StreamId;
  readonly at: number;
}

interface TopicState {
  /** Retained history, oldest first; `start` skips trimmed slots until compaction. */
  entries: StoredEntry[];
  start: number;
  last: StreamId;
  /** The newest id ever dropped from history, and why: a resume from before it has a gap. */
  dropped: { upTo: StreamId; reason: GapReason } | null;
  listeners: Set<TopicListener>;
}

/**
 * The embedded broker: history and fan-out in this process's memory. Ids are
 * stream ids from the wall clock, starting at the broker's boot time, so a
 * position issued before a restart is always recognised as such (`reset`).
 */
export function memoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const opts = { ...memoryBrokerDefaults, ...options };
  const boot: StreamId = { ms: opts.now(), seq: 0 };
  const topics = new Map<string, TopicState>();
  let closed = false;

  const sweepTimer = setInterval(sweep, opts.sweepIntervalMs);
  sweepTimer.unref();
  const retentionOf = new Map<string, Retention>();

  function topicState(topic: string): TopicState {
    let state = topics.get(topic);
    if (!state) {
      state = { entries: [], start: 0, last: boot, dropped: null, listeners: new Set() };
      topics.set(topic, state);
    }
    return state;
  }

  function drop(state: TopicState, count: number, reason: GapReason): void {
    if (count <= 0) return;
    const lastDropped = state.entries[state.start + count - 1];
    if (!lastDropped) return;
    state.start += count;
    state.dropped = { upTo: lastDropped.streamId, reason };
    // Compact once the dead prefix dominates, so trimming stays O(1) amortised.
    if (state.start > 1024 && state.start * 2 > state.entries.length) {
      state.entries = state.entries.slice(state.start);
      state.start = 0;
    }
  }

  function prune(state: TopicState, retention: Retention): void {
    const size = state.entries.length - state.start;
    if (size > retention.size) drop(state, size - retention.size, 'trimmed');
    const oldestAllowed = opts.now() - retention.ttlMs;
    let expired = 0;
    for (let i = state.start; i < state.entries.length; i++) {
      const entry = state.entries[i];
      if (!entry || entry.at >= oldestAllowed) break;
      expired++;
    }
    drop(state, expired, 'expired');
  }

  function retained(state: TopicState): StoredEntry[] {
    return state.entries.slice(state.start);
  }

  /** Publishes made once (`PublishOnce`), by topic and tag: the id and until when it is remembered. */
  const publishedOnce = new Map<string, { readonly id: string; readonly expiresAt: number }>();

  function sweep(): void {
    idempotency.sweep();
    const at = opts.now();
    for (const [tag, record] of publishedOnce) if (record.expiresAt <= at) publishedOnce.delete(tag);
    for (const [topic, state] of topics) {
      const retention = retentionOf.get(topic);
      if (retention) prune(state, retention);
      if (state.listeners.size === 0 && state.entries.length === state.start) {
        topics.delete(topic);
        retentionOf.delete(topic);
      }
    }
  }

  function assertOpen(): void {
    if (closed) throw new BrokerUnavailableError('The memory broker is closed', { closed: true });
  }

  const presence = memoryPresence();
  const idempotency = memoryIdempotencyStore(opts.now);

  return {
    kind: 'memory',

    async publish(topic, data, retention, once, trace) {
      assertOpen();
      const onceKey = once ? `${topic}\n${once.tag}` : null;
      if (onceKey !== null) {
        const record = publishedOnce.get(onceKey);
        if (record && record.expiresAt > opts.now()) return record.id;
      }
      const state = topicState(topic);
      retentionOf.set(topic, retention);
      const now = opts.now();
      const streamId = nextStreamId(state.last, now);
      const entry: StoredEntry = { id: formatStreamId(streamId), data, streamId, at: now };
      state.last = streamId;
      state.entries.push(entry);
      prune(state, retention);
      const delivered: BrokerEntry = trace === undefined ? { id: entry.id, data } : { id: entry.id, data, trace };
      for (const listener of state.listeners) listener.onEntry(delivered);
      if (onceKey !== null && once) publishedOnce.set(onceKey, { id: entry.id, expiresAt: now + once.ttlMs });
      return entry.id;
    },

    async subscribe(topic, listener) {
      assertOpen();
      const state = topicState(topic);
      state.listeners.add(listener);
      return async () => {
        state.listeners.delete(listener);
      };
    },

    async readAfter(topic, after, retention): Promise<ReadAfterResult> {
      assertOpen();
      const state = topicState(topic);
      retentionOf.set(topic, retention);
      prune(state, retention);
      const head = formatStreamId(state.last);
      if (after === null) return { entries: [], head, gap: null };
      const position = parseStreamId(after);
      if (!position) return { entries: [], head, gap: 'unknown-position' };
      if (compareStreamIds(position, boot) < 0) {
        // Everything retained since the restart is newer than anything the
        // subscriber saw: replay it after the notice rather than skip it.
        return { entries: retained(state).map(({ id, data }) => ({ id, data })), head, gap: 'reset' };
      }
      if (compareStreamIds(position, state.last) > 0) return { entries: [], head, gap: 'unknown-position' };
      if (state.dropped && compareStreamIds(position, state.dropped.upTo) < 0) {
        return { entries: [], head, gap: state.dropped.reason };
      }
      const entries = retained(state)
        .filter((entry) => compareStreamIds(entry.streamId, position) > 0)
        .map(({ id, data }) => ({ id, data }));
      return { entries, head, gap: null };
    },

    async readLatest(topic, limit, retention): Promise<ReadLatestResult> {
      assertOpen();
      const state = topicState(topic);
      retentionOf.set(topic, retention);
      prune(state, retention);
      const all = retained(state);
      const entries = all.slice(Math.max(0, all.length - limit)).map(({ id, data }) => ({ id, data }));
      return { entries, head: formatStreamId(state.last) };
    },

    async historyLength(topic) {
      assertOpen();
      const state = topics.get(topic);
      return state ? retained(state).length : 0;
    },

    presence,
    idempotency,

    async ping() {
      assertOpen();
    },

    async close() {
      closed = true;
      clearInterval(sweepTimer);
      for (const state of topics.values()) state.listeners.clear();
      topics.clear();
    },
  };
}

function memoryPresence(): PresenceStore {
  const members = new Map<string, Map<string, PresenceRecord>>();
  const listeners = new Map<string, Set<PresenceListener>>();

  function emit(topic: string, event: PresenceChange): void {
    for (const listener of listeners.get(topic) ?? []) listener.onEvent(event);
  }

  return {
    async join(topic, record) {
      let set = members.get(topic);
      if (!set) members.set(topic, (set = new Map()));
      set.set(record.clientId, record);
      emit(topic, { type: 'join', record });
    },
    async leave(topic, clientId) {
      const set = members.get(topic);
      if (!set?.delete(clientId)) return;
      if (set.size === 0) members.delete(topic);
      emit(topic, { type: 'leave', clientId });
    },
    async list(topic) {
      return [...(members.get(topic)?.values() ?? [])];
    },
    async subscribe(topic, listener): Promise<Unsubscribe> {
      let set = listeners.get(topic);
      if (!set) listeners.set(topic, (set = new Set()));
      set.add(listener);
      return async () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(topic);
      };
    },
  };
}
