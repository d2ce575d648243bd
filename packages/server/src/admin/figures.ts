/**
 * The figures the admin page shows: what one node publishes about itself
 * (`NodeSnapshot`, on the broker topic `#herald/admin-stats`) and the
 * cluster view the admin router streams (`ClusterView`), built from the
 * snapshots of every node heard from recently.
 */
import type { AdminEvent } from './eventLog.js';
import type { ServerEvent } from '../observability/serverEvents.js';

/** Per second, over the node's last interval. */
export interface NodeRates {
  readonly connectionsOpened: number;
  readonly connectionsClosed: number;
  /** Messages this node's channels published. */
  readonly published: number;
  /** WebSocket frames this node sent (channel deliveries, answers, pings). */
  readonly delivered: number;
  readonly slowConsumerCloses: number;
  /** Bytes of WebSocket frames received and sent (before compression). */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Channel streams opened with a position to resume after: clients back from a reconnect. */
  readonly reconnects: number;
  /** Refusals by reason (only the reasons that refused something). */
  readonly refusals: Readonly<Record<string, number>>;
}

/** A topic with local subscribers on one node. */
export interface TopicFigures {
  readonly topic: string;
  readonly subscribers: number;
  /** Messages the node's fan-out received per second for it. */
  readonly messagesPerSecond: number;
}

/** What one node publishes about itself every interval. */
export interface NodeSnapshot {
  readonly nodeId: string;
  readonly startedAt: number;
  /** When it was taken, in ms since the epoch (the node's clock). */
  readonly at: number;
  readonly intervalMs: number;
  readonly connections: number;
  readonly subscriptions: number;
  /** Event-loop delay over the last interval, in ms. */
  readonly eventLoopDelayMs: { readonly mean: number; readonly p99: number; readonly max: number };
  readonly memory: { readonly rssBytes: number; readonly heapUsedBytes: number };
  readonly draining: boolean;
  readonly rates: NodeRates;
  /** The node's busiest topics, by subscribers and by messages per second. */
  readonly topics: readonly TopicFigures[];
  /** Its events since its previous snapshot, oldest first (at most `NODE_EVENT_CAPACITY`). */
  readonly events: readonly ServerEvent[];
  /** Events it let go since its previous snapshot (more than `NODE_EVENT_CAPACITY` in one interval). */
  readonly eventsLost: number;
}

/** One node as the page lists it. */
export interface NodeView {
  readonly nodeId: string;
  readonly uptimeMs: number;
  readonly connections: number;
  readonly subscriptions: number;
  readonly eventLoopDelayMs: NodeSnapshot['eventLoopDelayMs'];
  readonly memory: NodeSnapshot['memory'];
  readonly draining: boolean;
  /** How long ago its last snapshot arrived, in ms. */
  readonly ageMs: number;
  /** Bytes per second received and sent over its last interval (WebSocket frames, before compression). */
  readonly bytesInPerSecond: number;
  readonly bytesOutPerSecond: number;
}

/** One topic over the cluster. */
export interface ChannelView {
  readonly topic: string;
  /** Subscribers on every node. */
  readonly subscribers: number;
  readonly messagesPerSecond: number;
  /** Messages in its history, or null when the broker cannot tell. */
  readonly historyLength: number | null;
  /** Presence members (0 for a channel without presence). */
  readonly presence: number | null;
}

/** What the admin router's `cluster` subscription streams every interval. */
export interface ClusterView {
  readonly at: number;
  readonly intervalMs: number;
  /** The broker the nodes share (`memory`, `redis`). */
  readonly broker: string;
  readonly nodes: readonly NodeView[];
  readonly totals: { readonly connections: number; readonly subscriptions: number; readonly rates: NodeRates };
  /** The busiest topics by subscribers, most first. */
  readonly channelsBySubscribers: readonly ChannelView[];
  /** The busiest topics by messages per second, most first. */
  readonly channelsByMessages: readonly ChannelView[];
  /** The cluster's latest events (connects, refusals, revocations, slow consumers), newest first. */
  readonly events: readonly AdminEvent[];
  /** Events the nodes let go since this node started (a node's burst over `NODE_EVENT_CAPACITY` per interval). */
  readonly eventsLost: number;
}

/** How far back the admin page's charts reach: `ClusterStats` keeps one sample per interval for this long. */
export const CHART_WINDOW_MS = 15 * 60_000;

/** One point of the admin page's charts: the cluster at one interval (`admin` router's `history`, then the `cluster` stream). */
export interface ClusterSample {
  readonly at: number;
  readonly connections: number;
  /** Per second, over the cluster. */
  readonly published: number;
  readonly delivered: number;
  readonly refusals: number;
  readonly slowConsumerCloses: number;
  readonly reconnects: number;
  /** The highest event-loop delay p99 of any node, in ms. */
  readonly eventLoopDelayP99Ms: number;
  /** The highest resident memory of any node, in bytes. */
  readonly rssBytes: number;
}
