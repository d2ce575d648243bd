import { transformer } from '@herald/shared';
import type { Broker, BrokerEntry, Unsubscribe } from '../brokers/broker.js';
import { parseStreamId, type StreamId } from '../brokers/streamId.js';
import { SharedEvent } from './sharedEvent.js';

/**
 * A message as the node delivers it: decoded once, and serialized as a
 * `message` event at most once, for all local subscribers.
 */
export interface DecodedEntry {
  readonly id: string;
  readonly position: StreamId;
  readonly value: unknown;
  readonly shared: SharedEvent;
}

/** One local subscriber, as the fan-out sees it. */
export interface Sink {
  entry(entry: DecodedEntry): void;
  /** Live delivery may have skipped entries: catch up from history. */
  interrupted(): void;
}

interface TopicFanout {
  readonly sinks: Set<Sink>;
  readonly subscribed: Promise<Unsubscribe>;
  /** Entries the broker delivered for the topic (the admin page's messages per second). */
  messages: number;
}

/** One topic with local subscribers, as `FanoutRegistry.topicStats` lists it. */
export interface TopicStats {
  readonly topic: string;
  readonly subscribers: number;
  /** Entries delivered since the topic's fan-out started. */
  readonly messages: number;
}

/**
 * The node-local side of delivery: one broker subscription per topic however
 * many local subscribers it has, dropped when the last one leaves. Each entry
 * the broker delivers is decoded once and handed to every sink.
 */
export class FanoutRegistry {
  private readonly topics = new Map<string, TopicFanout>();

  constructor(
    private readonly broker: Broker,
    private readonly onSinkError: (error: unknown) => void,
  ) {}

  /** Adds a sink; resolves once the broker subscription is live. `detach` removes it. */
  async attach(topic: string, sink: Sink): Promise<void> {
    let fanout = this.topics.get(topic);
    if (!fanout) {
      const sinks = new Set<Sink>();
      const created: TopicFanout = {
        sinks,
        subscribed: this.broker.subscribe(topic, {
          onEntry: (entry) => {
            created.messages++;
            this.deliver(sinks, entry);
          },
          onInterrupted: () => this.each(sinks, (sink) => sink.interrupted()),
        }),
        messages: 0,
      };
      const { subscribed } = created;
      fanout = created;
      this.topics.set(topic, fanout);
      // A failed subscribe must not leave a dead entry that later attaches would reuse.
      subscribed.catch(() => {
        if (this.topics.get(topic) === fanout) this.topics.delete(topic);
      });
    }
    fanout.sinks.add(sink);
    const current = fanout;
    try {
      await current.subscribed;
    } catch (error) {
      current.sinks.delete(sink);
      throw error;
    }
  }

  /**
   * Removes an attached sink, and the topic's broker subscription with its
   * last one. (A sink is only ever in its topic's current entry: a failed
   * subscribe removes its sinks before the entry can be replaced.)
   */
  detach(topic: string, sink: Sink): void {
    const fanout = this.topics.get(topic);
    if (!fanout?.sinks.delete(sink) || fanout.sinks.size > 0) return;
    this.topics.delete(topic);
    fanout.subscribed.then((unsubscribe) => unsubscribe()).catch(this.onSinkError);
  }

  /** Topics with at least one local subscriber. */
  get topicCount(): number {
    return this.topics.size;
  }

  /** Every topic with local subscribers: how many, and the entries delivered so far. */
  *topicStats(): IterableIterator<TopicStats> {
    for (const [topic, { sinks, messages }] of this.topics) yield { topic, subscribers: sinks.size, messages };
  }

  private deliver(sinks: Set<Sink>, entry: BrokerEntry): void {
    let decoded: DecodedEntry;
    try {
      const position = parseStreamId(entry.id);
      if (!position) throw new Error(`broker delivered an entry with a malformed id: ${entry.id}`);
      const value = transformer.parse(entry.data);
      decoded = { id: entry.id, position, value, shared: new SharedEvent(entry.id, { type: 'message', message: value }, true) };
    } catch (error) {
      this.onSinkError(error);
      return;
    }
    this.each(sinks, (sink) => sink.entry(decoded));
  }

  private each(sinks: Set<Sink>, call: (sink: Sink) => void): void {
    for (const sink of sinks) {
      try {
        call(sink);
      } catch (error) {
        this.onSinkError(error);
      }
    }
  }
}
