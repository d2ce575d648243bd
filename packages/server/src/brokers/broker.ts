import type { GapReason } from '@herald/shared';
import type { IdempotencyStore } from './idempotency.js';
import type { PublishOnce } from './publishOnce.js';

/**
 * The one seam all delivery goes through. A broker knows topics (a channel
 * name plus key), opaque serialized payloads and positions; nothing about
 * WebSocket, tRPC or schemas. The in-memory broker and the Redis broker both
 * implement it, and the same test suite runs against both.
 */
export interface Broker {
  /** A short label for logs and health (`memory`, `redis`). */
  readonly kind: string;

  /**
   * Appends to the topic's history and notifies live subscribers, as one
   * step: no subscriber can see a message before it is in history. Resolves
   * with the message's id, which orders it among all of the topic's messages
   * whichever process published them. Rejects with `BROKER_UNAVAILABLE`
   * when it failed: it did not happen, or, when the error says
   * `outcomeUnknown` (a timeout), it may happen yet. With `once`, a publish
   * whose tag the topic has seen stores nothing and resolves with the id
   * the tag was first published with (keyed mutations, `PublishOnce`).
   * `trace` (the publish's trace context, one line of text) is stored with
   * the message and comes back with its entry.
   */
  publish(topic: string, data: string, retention: Retention, once?: PublishOnce, trace?: string): Promise<string>;

  /**
   * Live delivery of the topic's messages in id order, from now on. Resolves
   * once the subscription is active: anything published after that reaches
   * the listener.
   */
  subscribe(topic: string, listener: TopicListener): Promise<Unsubscribe>;

  /**
   * Messages after `after` (exclusive), oldest first, at most `limit`, and
   * whether retained history can prove nothing after `after` was lost.
   * `after = null` reads nothing and only reports the head.
   */
  readAfter(topic: string, after: string | null, retention: Retention): Promise<ReadAfterResult>;

  /** The newest `limit` retained messages, oldest first, and the head. */
  readLatest(topic: string, limit: number, retention: Retention): Promise<ReadLatestResult>;

  /**
   * How many messages the topic's history holds now (the admin page shows
   * it). Optional: a broker without it shows no history length.
   */
  historyLength?(topic: string): Promise<number>;

  /** Who is subscribed to each topic (`channel.members`, `presenceEvents`). */
  readonly presence: PresenceStore;

  /** Outcomes of mutations by idempotency key, shared by every node. */
  readonly idempotency: IdempotencyStore;

  /**
   * Resolves when the broker can serve, writes included; rejects with the
   * reason when it cannot (`/readyz`). May answer from a probe made up to a
   * second before, so frequent readiness checks cost the broker little.
   */
  ping(): Promise<void>;

  /** Ends every subscription and timer the broker owns. */
  close(): Promise<void>;
}

/** What `Broker.subscribe` delivers a topic's live entries to. */
export interface TopicListener {
  /** A live entry, in id order. */
  onEntry(entry: BrokerEntry): void;
  /**
   * Live delivery may have skipped entries (for example the broker's
   * connection dropped and came back). Subscribers catch up from history,
   * after the last id they saw.
   */
  onInterrupted(): void;
}

/** One stored message of a topic. */
export interface BrokerEntry {
  /** Its position: a stream id `<ms>-<seq>`, ordered per topic. */
  readonly id: string;
  /** The message as the channel serialized it (Herald's transformer). */
  readonly data: string;
  /** The trace context its publish stored (OpenTelemetry, `observability/tracing.ts`), when it stored one. */
  readonly trace?: string | undefined;
}

/** How much history a topic keeps. Whichever bound is hit first trims. */
export interface Retention {
  /** Messages kept per key; the oldest leave first. */
  readonly size: number;
  /** Age, in ms, after which a message leaves history. */
  readonly ttlMs: number;
}

/** What `Broker.readAfter` answers: the history after a position, and whether any of it was lost. */
export interface ReadAfterResult {
  /** The retained messages after the position, oldest first. */
  readonly entries: readonly BrokerEntry[];
  /**
   * The topic's newest id when the read happened (or the zero id if it has
   * none): resuming from `head` later loses nothing published after the read.
   */
  readonly head: string;
  /**
   * Set when messages after `after` may have been dropped. `entries` is then
   * empty, except for `reset`: what was stored since the reset (none of which
   * the subscriber can have seen) may follow the notice.
   */
  readonly gap: GapReason | null;
}

/** What `Broker.readLatest` answers: the newest messages and the position they end at. */
export interface ReadLatestResult {
  /** The newest retained messages, oldest first. */
  readonly entries: readonly BrokerEntry[];
  /** The topic's newest id when the read happened (or the zero id): a stream resumed from it continues after `entries`. */
  readonly head: string;
}

/** Ends a subscription; resolves once the broker no longer delivers to it. */
export type Unsubscribe = () => Promise<void>;

/**
 * Who is subscribed to a topic, across every process that shares the broker.
 * Entries of a process that dies without leaving expire by TTL (Redis); the
 * memory broker lives and dies with its process, so it needs none.
 */
export interface PresenceStore {
  /** Adds `record` to the topic's members and tells its presence subscribers. */
  join(topic: string, record: PresenceRecord): Promise<void>;
  /** Removes the member `clientId` and tells the topic's presence subscribers. */
  leave(topic: string, clientId: string): Promise<void>;
  /** The topic's members now. */
  list(topic: string): Promise<PresenceRecord[]>;
  /** Joins and leaves of the topic from now on; resolves once the subscription is active. */
  subscribe(topic: string, listener: PresenceListener): Promise<Unsubscribe>;
}

/** What `PresenceStore.subscribe` delivers a topic's joins and leaves to. */
export interface PresenceListener {
  /** A member joined or left. */
  onEvent(event: PresenceChange): void;
  /** Events may have been missed (the broker's connection dropped and came back): list the members again. */
  onInterrupted(): void;
}

/** One member of a topic's presence, as the broker stores it. */
export interface PresenceRecord {
  /** A random id per subscription that joined (one user with two tabs is two members). */
  readonly clientId: string;
  /** Transformer-serialized member info. */
  readonly info: string;
  /** When it joined, in ms since the epoch. */
  readonly joinedAt: number;
}

/** A join (with the member) or a leave (with its `clientId`). */
export type PresenceChange =
  | { readonly type: 'join'; readonly record: PresenceRecord }
  | { readonly type: 'leave'; readonly clientId: string };
