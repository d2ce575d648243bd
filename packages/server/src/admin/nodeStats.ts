import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { RefusalReason } from '../errors.js';
import type { FanoutRegistry } from '../channels/fanout.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { ServerEvent } from '../observability/serverEvents.js';
import { EventRing, NODE_EVENT_CAPACITY } from './eventLog.js';
import type { NodeSnapshot, TopicFigures } from './figures.js';

/** Topics a node reports: its busiest by subscribers, and by messages per second. */
const TOPICS_PER_LIST = 20;
/** The event-loop delay sampling resolution, in ms. */
const DELAY_RESOLUTION_MS = 10;

/** Where a node's figures come from. */
export interface NodeSources {
  readonly nodeId: string;
  readonly startedAt: number;
  readonly intervalMs: number;
  readonly connectionCount: () => number;
  readonly isDraining: () => boolean;
  readonly metrics: ServerMetrics;
  /** The Herald's fan-out and counts, or null without `herald`. */
  readonly channels: { readonly fanout: FanoutRegistry; readonly counts: { readonly published: number; readonly resumed: number } } | null;
}

interface Counters {
  readonly at: number;
  readonly opened: number;
  readonly closed: number;
  readonly published: number;
  readonly delivered: number;
  readonly slowConsumerCloses: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly resumed: number;
  readonly refusals: ReadonlyMap<string, number>;
}

/**
 * One node's figures, taken once per interval: gauges as they are, counters
 * as rates since the previous snapshot, the event-loop delay measured over
 * the interval. Runs only while the admin page is on.
 */
export class NodeStats {
  private readonly delay: IntervalHistogram;
  private previous: Counters;
  private previousTopics = new Map<string, number>();
  /** This node's events since its last snapshot (the `ServerEvents` of its metrics, while the page is on). */
  private readonly events = new EventRing<ServerEvent>(NODE_EVENT_CAPACITY);
  private readonly stopListening: () => void;

  constructor(private readonly sources: NodeSources) {
    this.delay = monitorEventLoopDelay({ resolution: DELAY_RESOLUTION_MS });
    this.delay.enable();
    this.stopListening = sources.metrics.events.listen((event) => this.events.push(event));
    this.previous = this.counters(Date.now());
  }

  snapshot(now = Date.now()): NodeSnapshot {
    const { sources } = this;
    const current = this.counters(now);
    const before = this.previous;
    const seconds = Math.max(0.001, (current.at - before.at) / 1000);
    const rate = (after: number, earlier: number) => round((after - earlier) / seconds);
    const refusals: Record<string, number> = {};
    for (const [reason, count] of current.refusals) {
      const perSecond = rate(count, before.refusals.get(reason) ?? 0);
      if (perSecond > 0) refusals[reason] = perSecond;
    }
    const delay = this.delay;
    const memory = process.memoryUsage();
    const events = this.events.take();
    const snapshot: NodeSnapshot = {
      nodeId: sources.nodeId,
      startedAt: sources.startedAt,
      at: now,
      intervalMs: sources.intervalMs,
      connections: sources.connectionCount(),
      subscriptions: sources.metrics.subscriptions,
      // The histogram reports nanoseconds; NaN before its first sample.
      eventLoopDelayMs: { mean: ms(delay.mean), p99: ms(delay.percentile(99)), max: ms(delay.max) },
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed },
      draining: sources.isDraining(),
      rates: {
        connectionsOpened: rate(current.opened, before.opened),
        connectionsClosed: rate(current.closed, before.closed),
        published: rate(current.published, before.published),
        delivered: rate(current.delivered, before.delivered),
        slowConsumerCloses: rate(current.slowConsumerCloses, before.slowConsumerCloses),
        bytesIn: rate(current.bytesIn, before.bytesIn),
        bytesOut: rate(current.bytesOut, before.bytesOut),
        reconnects: rate(current.resumed, before.resumed),
        refusals,
      },
      topics: this.topics(seconds),
      events: events.items,
      eventsLost: events.lost,
    };
    delay.reset();
    this.previous = current;
    return snapshot;
  }

  stop(): void {
    this.delay.disable();
    this.stopListening();
  }

  private counters(at: number): Counters {
    const { metrics, channels } = this.sources;
    const refusals = new Map<string, number>();
    for (const reason of Object.values(RefusalReason)) {
      const count = metrics.refusalCount(reason);
      if (count > 0) refusals.set(reason, count);
    }
    return {
      at,
      opened: metrics.connectionsOpened,
      closed: metrics.connectionsClosed,
      published: channels?.counts.published ?? 0,
      delivered: metrics.framesOut,
      slowConsumerCloses: metrics.slowConsumerCloses,
      bytesIn: metrics.bytesIn,
      bytesOut: metrics.bytesOut,
      resumed: channels?.counts.resumed ?? 0,
      refusals,
    };
  }

  /** The busiest topics by subscribers and by messages per second (a topic first seen counts from 0). */
  private topics(seconds: number): TopicFigures[] {
    const fanout = this.sources.channels?.fanout;
    if (!fanout) return [];
    const all: TopicFigures[] = [];
    const seen = new Map<string, number>();
    for (const { topic, subscribers, messages } of fanout.topicStats()) {
      seen.set(topic, messages);
      all.push({ topic, subscribers, messagesPerSecond: round((messages - (this.previousTopics.get(topic) ?? 0)) / seconds) });
    }
    this.previousTopics = seen;
    if (all.length <= TOPICS_PER_LIST) return all;
    const chosen = new Set(top(all, (t) => t.subscribers));
    for (const figures of top(all, (t) => t.messagesPerSecond)) chosen.add(figures);
    return [...chosen];
  }
}

function top(all: readonly TopicFigures[], by: (figures: TopicFigures) => number): TopicFigures[] {
  return [...all].sort((a, b) => by(b) - by(a)).slice(0, TOPICS_PER_LIST);
}

function ms(nanoseconds: number): number {
  return Number.isFinite(nanoseconds) ? round(nanoseconds / 1e6) : 0;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
