import type { Broker, Unsubscribe } from '../brokers/broker.js';
import { CHART_WINDOW_MS, type ChannelView, type ClusterSample, type ClusterView, type NodeRates, type NodeSnapshot, type TopicFigures } from './figures.js';
import { CLUSTER_EVENT_CAPACITY, EventRing, type AdminEvent } from './eventLog.js';
import type { NodeStats } from './nodeStats.js';

/**
 * The broker topic nodes publish their figures on. Channel topics are
 * `<name>:<key>` with names of `[A-Za-z0-9_.-]`, so no channel can use it.
 */
export const STATS_TOPIC = '#herald/admin-stats';

/** Snapshots are figures of the moment, not history: kept briefly and few. */
const RETENTION = { size: 50, ttlMs: 10_000 } as const;

/** A node whose last snapshot is older than this many of its intervals has left the view. */
const EXPIRY_INTERVALS = 2.5;

/** Events in each view (the newest of the cluster's log). */
const EVENTS_PER_VIEW = 50;

/** Topics in each of the view's channel lists. */
const CHANNELS_PER_LIST = 10;

type StatsMessage = { readonly type: 'snapshot'; readonly snapshot: NodeSnapshot } | { readonly type: 'gone'; readonly nodeId: string };

interface Heard {
  readonly snapshot: NodeSnapshot;
  readonly receivedAt: number;
}

/**
 * Every node's figures, cluster-wide: this node publishes its snapshot
 * through the broker every interval (memory or Redis, the topic
 * `STATS_TOPIC`) and keeps the latest snapshot of each node it hears from,
 * dropping a node silent for `EXPIRY_INTERVALS` intervals (a node that stops
 * cleanly says so at once). Watchers (the admin router's streams) are called
 * once per interval, after this node's own snapshot.
 */
export class ClusterStats {
  private readonly nodes = new Map<string, Heard>();
  private readonly watchers = new Set<() => void>();
  /** One sample per interval, oldest first, for `CHART_WINDOW_MS`: the charts reach back before the page opened. */
  private readonly history: ClusterSample[] = [];
  /** Every node's events as their snapshots bring them, newest first when read. */
  private readonly events = new EventRing<AdminEvent>(CLUSTER_EVENT_CAPACITY);
  private eventsLost = 0;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: Unsubscribe | null = null;

  constructor(
    private readonly stats: NodeStats,
    private readonly broker: Broker | null,
    private readonly settings: { readonly nodeId: string; readonly intervalMs: number; readonly onError: (error: unknown) => void },
  ) {}

  /** Starts listening and publishing; resolves once snapshots published from now on reach this node. */
  async start(): Promise<void> {
    if (this.broker) {
      this.unsubscribe = await this.broker.subscribe(STATS_TOPIC, {
        onEntry: (entry) => this.receive(entry.data),
        // Missed snapshots are replaced by the next ones.
        onInterrupted: () => {},
      });
    }
    this.tick();
    this.timer = setInterval(() => this.tick(), this.settings.intervalMs);
    this.timer.unref();
  }

  /** Calls `listener` once per interval until the returned function is called. */
  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }

  /** The live nodes' latest snapshots, this node's first. */
  snapshots(now = Date.now()): NodeSnapshot[] {
    const live: NodeSnapshot[] = [];
    for (const [nodeId, heard] of this.nodes) {
      if (now - heard.receivedAt > heard.snapshot.intervalMs * EXPIRY_INTERVALS) this.nodes.delete(nodeId);
      else live.push(heard.snapshot);
    }
    return live.sort((a, b) => (a.nodeId === this.settings.nodeId ? -1 : b.nodeId === this.settings.nodeId ? 1 : a.nodeId.localeCompare(b.nodeId)));
  }

  /** The samples of the last `CHART_WINDOW_MS`, oldest first. */
  samples(now = Date.now()): ClusterSample[] {
    return this.history.filter((sample) => now - sample.at <= CHART_WINDOW_MS);
  }

  /** The cluster as the page shows it; reads history lengths and presence counts of the listed topics from the broker. */
  async view(now = Date.now()): Promise<ClusterView> {
    const snapshots = this.snapshots(now);
    const byTopic = new Map<string, { subscribers: number; messagesPerSecond: number }>();
    for (const snapshot of snapshots) {
      for (const figures of snapshot.topics) addTopic(byTopic, figures);
    }
    const topics = [...byTopic].map(([topic, figures]) => ({ topic, ...figures }));
    const bySubscribers = topics.sort((a, b) => b.subscribers - a.subscribers || a.topic.localeCompare(b.topic)).slice(0, CHANNELS_PER_LIST);
    const byMessages = [...byTopic]
      .map(([topic, figures]) => ({ topic, ...figures }))
      .filter((t) => t.messagesPerSecond > 0)
      .sort((a, b) => b.messagesPerSecond - a.messagesPerSecond || a.topic.localeCompare(b.topic))
      .slice(0, CHANNELS_PER_LIST);
    const details = new Map<string, Promise<ChannelView>>();
    const detail = (figures: { topic: string; subscribers: number; messagesPerSecond: number }) => {
      let view = details.get(figures.topic);
      if (!view) {
        view = this.channelView(figures);
        details.set(figures.topic, view);
      }
      return view;
    };
    const [channelsBySubscribers, channelsByMessages] = await Promise.all([
      Promise.all(bySubscribers.map(detail)),
      Promise.all(byMessages.map(detail)),
    ]);
    return {
      at: now,
      intervalMs: this.settings.intervalMs,
      broker: this.broker?.kind ?? 'none',
      nodes: snapshots.map((s) => ({
        nodeId: s.nodeId,
        uptimeMs: Math.max(0, s.at - s.startedAt),
        connections: s.connections,
        subscriptions: s.subscriptions,
        eventLoopDelayMs: s.eventLoopDelayMs,
        memory: s.memory,
        draining: s.draining,
        ageMs: Math.max(0, now - (this.nodes.get(s.nodeId)?.receivedAt ?? now)),
        bytesInPerSecond: s.rates.bytesIn ?? 0,
        bytesOutPerSecond: s.rates.bytesOut ?? 0,
      })),
      totals: {
        connections: sum(snapshots, (s) => s.connections),
        subscriptions: sum(snapshots, (s) => s.subscriptions),
        rates: sumRates(snapshots.map((s) => s.rates)),
      },
      channelsBySubscribers,
      channelsByMessages,
      // Arrival order is per node, an interval apart: the log reads by time.
      events: this.events.newest(EVENTS_PER_VIEW).sort((a, b) => b.at - a.at),
      eventsLost: this.eventsLost,
    };
  }

  /** Stops publishing and tells the other nodes this one left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watchers.clear();
    this.stats.stop();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    if (!unsubscribe || !this.broker) return;
    await this.publish({ type: 'gone', nodeId: this.settings.nodeId });
    await unsubscribe();
  }

  private tick(): void {
    const snapshot = this.stats.snapshot();
    // This node's own figures count at once, without the broker round trip.
    this.nodes.set(snapshot.nodeId, { snapshot, receivedAt: Date.now() });
    this.collect(snapshot);
    if (this.broker) void this.publish({ type: 'snapshot', snapshot });
    this.record(snapshot.at);
    for (const watcher of this.watchers) watcher();
  }

  private record(at: number): void {
    const snapshots = this.snapshots(at);
    const rates = sumRates(snapshots.map((s) => s.rates));
    this.history.push({
      at,
      connections: sum(snapshots, (s) => s.connections),
      published: rates.published,
      delivered: rates.delivered,
      refusals: Math.round(sum(Object.values(rates.refusals), (perSecond) => perSecond) * 100) / 100,
      slowConsumerCloses: rates.slowConsumerCloses,
      reconnects: rates.reconnects,
      eventLoopDelayP99Ms: Math.max(0, ...snapshots.map((s) => s.eventLoopDelayMs.p99)),
      rssBytes: Math.max(0, ...snapshots.map((s) => s.memory.rssBytes)),
    });
    let expired = 0;
    while (expired < this.history.length && at - (this.history[expired]?.at ?? at) > CHART_WINDOW_MS) expired++;
    if (expired > 0) this.history.splice(0, expired);
  }

  private async publish(message: StatsMessage): Promise<void> {
    try {
      await this.broker?.publish(STATS_TOPIC, JSON.stringify(message), RETENTION);
    } catch (error) {
      this.settings.onError(error);
    }
  }

  private receive(data: string): void {
    const message = parseMessage(data);
    if (!message) {
      this.settings.onError(new Error(`Ignored a malformed admin snapshot: ${data.slice(0, 200)}`));
      return;
    }
    if (message.type === 'gone') {
      if (message.nodeId !== this.settings.nodeId) this.nodes.delete(message.nodeId);
      return;
    }
    if (message.snapshot.nodeId === this.settings.nodeId) return;
    this.nodes.set(message.snapshot.nodeId, { snapshot: message.snapshot, receivedAt: Date.now() });
    this.collect(message.snapshot);
  }

  /** A snapshot's events join the cluster's log (a node of an older version sends none). */
  private collect(snapshot: NodeSnapshot): void {
    const { events, eventsLost } = snapshot;
    if (Array.isArray(events)) for (const event of events) this.events.push({ ...event, nodeId: snapshot.nodeId });
    if (typeof eventsLost === 'number') this.eventsLost += eventsLost;
  }

  private async channelView(figures: { topic: string; subscribers: number; messagesPerSecond: number }): Promise<ChannelView> {
    const { broker } = this;
    const [historyLength, presence] = await Promise.all([
      broker?.historyLength ? broker.historyLength(figures.topic).catch(() => null) : null,
      broker ? broker.presence.list(figures.topic).then((members) => members.length, () => null) : null,
    ]);
    return { ...figures, historyLength, presence };
  }
}

function addTopic(byTopic: Map<string, { subscribers: number; messagesPerSecond: number }>, figures: TopicFigures): void {
  const known = byTopic.get(figures.topic);
  if (!known) {
    byTopic.set(figures.topic, { subscribers: figures.subscribers, messagesPerSecond: figures.messagesPerSecond });
    return;
  }
  known.subscribers += figures.subscribers;
  // Every node subscribed to a topic receives each of its messages: the topic's rate is the highest seen, not the sum.
  known.messagesPerSecond = Math.max(known.messagesPerSecond, figures.messagesPerSecond);
}

function sum<T>(items: readonly T[], read: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += read(item);
  return total;
}

function sumRates(rates: readonly NodeRates[]): NodeRates {
  const refusals: Record<string, number> = {};
  for (const node of rates) {
    for (const [reason, perSecond] of Object.entries(node.refusals)) refusals[reason] = (refusals[reason] ?? 0) + perSecond;
  }
  const total = (read: (node: NodeRates) => number) => Math.round(sum(rates, read) * 100) / 100;
  return {
    connectionsOpened: total((r) => r.connectionsOpened),
    connectionsClosed: total((r) => r.connectionsClosed),
    published: total((r) => r.published),
    delivered: total((r) => r.delivered),
    slowConsumerCloses: total((r) => r.slowConsumerCloses),
    bytesIn: total((r) => r.bytesIn ?? 0),
    bytesOut: total((r) => r.bytesOut ?? 0),
    reconnects: total((r) => r.reconnects),
    refusals,
  };
}

function parseMessage(data: string): StatsMessage | null {
  try {
    const value = JSON.parse(data) as Partial<{ type: unknown; nodeId: unknown; snapshot: Partial<NodeSnapshot> }>;
    if (value.type === 'gone' && typeof value.nodeId === 'string') return { type: 'gone', nodeId: value.nodeId };
    const snapshot = value.snapshot;
    if (
      value.type === 'snapshot' &&
      typeof snapshot === 'object' &&
      snapshot !== null &&
      typeof snapshot.nodeId === 'string' &&
      typeof snapshot.intervalMs === 'number' &&
      Array.isArray(snapshot.topics) &&
      typeof snapshot.rates === 'object'
    ) {
      return { type: 'snapshot', snapshot: snapshot as NodeSnapshot };
    }
  } catch {
    // Not JSON: reported by the caller.
  }
  return null;
}
