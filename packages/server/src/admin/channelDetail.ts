import { transformer } from '@herald/shared';
import type { Broker, Retention } from '../brokers/broker.js';
import { parseStreamId } from '../brokers/streamId.js';
import type { FoundConnection, NodeSubscribers, TopicSubscribers } from './lookups.js';

/** Members one channel detail lists at most (the count says how many there are). */
export const DETAIL_MEMBERS = 100;
/** Messages one channel detail shows: the newest of its history. */
export const DETAIL_MESSAGES = 20;

/** A presence member of a topic. */
export interface ChannelMember {
  /** One per subscription that joined: one user in two tabs is two members. */
  readonly clientId: string;
  /** What the channel's `presence` schema holds for it. */
  readonly info: unknown;
  readonly joinedAt: number;
}

/** A message of a topic's history. */
export interface ChannelMessage {
  /** Its stream id (its position). */
  readonly id: string;
  /** When it was published, in ms since the epoch (the broker's clock). */
  readonly publishedAt: number;
  readonly message: unknown;
}

/** One topic as the admin page's channel detail shows it. */
export interface ChannelDetail {
  readonly topic: string;
  /** Local subscribers on each live node that answered. */
  readonly subscribersByNode: readonly NodeSubscribers[];
  /**
   * The connections subscribed to it on those nodes (WebSockets and HTTP
   * event streams), at most 50 per node, by node, oldest first.
   */
  readonly connections: readonly FoundConnection[];
  /**
   * Subscribers not among `connections`' subscriptions of the topic: over the
   * per-node limit, or streams no connection holds (a server-side
   * `channel.stream()` iterated by the app itself).
   */
  readonly unlistedSubscribers: number;
  /** Presence members, oldest first (at most `DETAIL_MEMBERS`). */
  readonly members: readonly ChannelMember[];
  readonly memberCount: number;
  /** The newest messages, oldest first, or null when this node declares no channel of that name (it cannot tell the history's bounds). */
  readonly lastMessages: readonly ChannelMessage[] | null;
  /** Messages in its history, or null when the broker cannot tell. */
  readonly historyLength: number | null;
}

/** What a channel detail is read from. */
export interface ChannelSources {
  readonly broker: Broker | null;
  /** Declared channels' retention by channel name (the part of a topic before its first `:`). */
  readonly retentions: ReadonlyMap<string, Retention>;
  readonly subscribers: (topic: string) => Promise<TopicSubscribers>;
}

/**
 * Reads one topic's detail: subscribers per node and the connections that
 * hold them (asked through the broker), presence members and the newest messages of its history. A
 * history is read with the retention its channel was declared with, so the
 * read trims nothing the channel would keep.
 */
export async function readChannelDetail(topic: string, sources: ChannelSources): Promise<ChannelDetail> {
  const { broker } = sources;
  const retention = sources.retentions.get(topic.slice(0, topic.indexOf(':')));
  const [subscribers, records, latest, historyLength] = await Promise.all([
    sources.subscribers(topic),
    broker ? broker.presence.list(topic) : [],
    broker && retention ? broker.readLatest(topic, DETAIL_MESSAGES, retention) : null,
    broker?.historyLength ? broker.historyLength(topic).catch(() => null) : null,
  ]);
  const members = [...records].sort((a, b) => a.joinedAt - b.joinedAt);
  const total = subscribers.byNode.reduce((sum, node) => sum + node.subscribers, 0);
  const listed = subscribers.connections.reduce((sum, connection) => sum + connection.topics.filter((held) => held === topic).length, 0);
  return {
    topic,
    subscribersByNode: subscribers.byNode,
    connections: subscribers.connections,
    unlistedSubscribers: Math.max(0, total - listed),
    members: members.slice(0, DETAIL_MEMBERS).map((record) => ({ clientId: record.clientId, info: readValue(record.info), joinedAt: record.joinedAt })),
    memberCount: members.length,
    lastMessages: latest
      ? latest.entries.map((entry) => ({ id: entry.id, publishedAt: parseStreamId(entry.id)?.ms ?? 0, message: readValue(entry.data) }))
      : null,
    historyLength,
  };
}

/** A stored value as the app published it; text that does not parse is shown as it is. */
function readValue(text: string): unknown {
  try {
    return transformer.parse(text);
  } catch {
    return text;
  }
}
