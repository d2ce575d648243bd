import { transformer } from '@herald/shared';
import type { Broker, BrokerEntry, Unsubscribe } from '../brokers/broker.js';
import { parseStreamId, type StreamId } from '../brokers/streamId.js';
import { startDeliverySpan, traceOfStored, tracingActive, type HeraldSpan, type TraceCarrier } from '../observability/tracing.js';
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
  /** The trace context its publish stored (OpenTelemetry), if any. */
  readonly trace: string | undefined;
}

/** One local subscriber, as the fan-out sees it. */
export interface Sink {
  entry(entry: DecodedEntry): void;
  /** Live delivery may have skipped entries: catch up from history. */
  interrupted(): void;
}

/** The trace context a delivery's publish stored, for its batch's span. */
function traceOfDelivery(delivery: Delivery): TraceCarrier | null {
  return delivery === INTERRUPTED ? null : traceOfStored(delivery.trace);
}

/** What a topic's sinks are handed, in order: an entry, or the notice that live delivery was interrupted. */
type Delivery = DecodedEntry | typeof INTERRUPTED;
const INTERRUPTED = Symbol('interrupted');

/** Deliveries (sinks × messages) a fan-out hands out before it yields to the event loop (`setFanoutSliceSize`). */
export const DEFAULT_FANOUT_SLICE_SIZE = 256;
let sliceSize = DEFAULT_FANOUT_SLICE_SIZE;

/**
 * Sets how many deliveries a fan-out makes before it yields, for the registries
 * made from now on: internal, for tests that need many slices from a few
 * hundred real sockets. Returns the previous size.
 */
export function setFanoutSliceSize(size: number): number {
  if (!Number.isInteger(size) || size < 1) throw new RangeError('the fan-out slice size must be a positive integer');
  const previous = sliceSize;
  sliceSize = size;
  return previous;
}

/**
 * Deliveries a topic holds back while a sliced batch is under way. Past it,
 * publishes outrun what the node can hand out: the waiting entries are
 * dropped and every sink is told live delivery was interrupted, so each
 * catches up from history (the broker stored them) as after a broker
 * reconnect, instead of the node queueing without bound.
 */
export const MAX_WAITING_DELIVERIES = 1_024;

/** A topic's sinks and the deliveries not yet handed to all of them. */
interface DeliveryQueue {
  readonly topic: string;
  readonly sinks: Set<Sink>;
  /** The deliveries being handed out, in order, to one sink after another; null when none is. */
  batch: Delivery[] | null;
  /** Where `batch` stands in `sinks` (a Set iterator: it skips sinks that left and reaches those that joined). */
  cursor: Iterator<Sink> | null;
  /** The sink the next slice starts with: taken from `cursor` when the last slice ran out. */
  held: Sink | null;
  /** Deliveries that arrived while a batch was under way: the next batch. */
  pending: Delivery[];
  /** The span of the batch under way, when an OpenTelemetry SDK records spans. */
  span: HeraldSpan | null;
}

interface TopicFanout {
  readonly sinks: Set<Sink>;
  readonly subscribed: Promise<Unsubscribe>;
  /** `subscribed` resolved: a sink attaching now is live at once, with nothing to wait for. */
  live: boolean;
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
 *
 * A large topic is served in slices: after about `sliceSize` deliveries
 * the fan-out yields (`setImmediate`), so a broadcast to many subscribers
 * never holds the event loop for long (calls, heartbeats and other topics
 * run between slices). Entries that arrive while a broadcast is under way
 * wait, and then go out together as the next batch: each sink gets the
 * whole batch, in order, before the next sink (its frames leave in one
 * write), and a batch reaches every sink before the next batch starts, so
 * no sink sees a later message before an earlier one. A sink that joins
 * during a batch is reached by it (it is still reading history, and the
 * resume algorithm drops what history already gave it); one that leaves is
 * skipped.
 *
 * ```
 *  broker ─▶ m1            batch [m1]:     sinks 1..256 ─ yield ─ 257..512 ─ yield ─ …
 *  broker ─▶ m2, m3        pending [m2, m3] (waits)
 *                          batch [m2, m3]: sink 1 gets m2, m3; sink 2 gets m2, m3; … (128 sinks a slice)
 * ```
 */
export class FanoutRegistry {
  private readonly topics = new Map<string, TopicFanout>();
  private readonly sliceSize = sliceSize;

  constructor(
    private readonly broker: Broker,
    private readonly onSinkError: (error: unknown) => void,
  ) {}

  /**
   * Adds a sink. Returns null when the topic's broker subscription is live
   * already (the usual case: the topic has other subscribers), else a
   * promise that resolves once it is (rejects, with the sink removed, when
   * it fails). `detach` removes it.
   */
  attach(topic: string, sink: Sink): Promise<void> | null {
    let fanout = this.topics.get(topic);
    if (!fanout) {
      const queue: DeliveryQueue = { topic, sinks: new Set(), batch: null, cursor: null, held: null, pending: [], span: null };
      const created: TopicFanout = {
        sinks: queue.sinks,
        subscribed: this.broker.subscribe(topic, {
          onEntry: (entry) => {
            created.messages++;
            this.deliver(queue, entry);
          },
          onInterrupted: () => this.enqueue(queue, INTERRUPTED),
        }),
        messages: 0,
        live: false,
      };
      const { subscribed } = created;
      fanout = created;
      this.topics.set(topic, fanout);
      subscribed.then(
        () => {
          created.live = true;
        },
        // A failed subscribe must not leave a dead entry that later attaches would reuse.
        () => {
          if (this.topics.get(topic) === created) this.topics.delete(topic);
        },
      );
    }
    fanout.sinks.add(sink);
    return fanout.live ? null : this.whenLive(fanout, sink);
  }

  private async whenLive(fanout: TopicFanout, sink: Sink): Promise<void> {
    try {
      await fanout.subscribed;
    } catch (error) {
      fanout.sinks.delete(sink);
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

  private deliver(queue: DeliveryQueue, entry: BrokerEntry): void {
    let decoded: DecodedEntry;
    try {
      const position = parseStreamId(entry.id);
      if (!position) throw new Error(`broker delivered an entry with a malformed id: ${entry.id}`);
      const value = transformer.parse(entry.data);
      decoded = { id: entry.id, position, value, shared: new SharedEvent(entry.id, { type: 'message', message: value }, 'published'), trace: entry.trace };
    } catch (error) {
      this.onSinkError(error);
      return;
    }
    this.enqueue(queue, decoded);
  }

  /** Hands `delivery` out at once when the topic is not busy; else it waits for the batch under way. */
  private enqueue(queue: DeliveryQueue, delivery: Delivery): void {
    if (queue.pending.length >= MAX_WAITING_DELIVERIES) {
      queue.pending = [INTERRUPTED];
      return;
    }
    queue.pending.push(delivery);
    if (queue.batch === null && queue.pending.length === 1) this.run(queue);
  }

  /** Hands out batches, each to every sink in turn, until none is pending or this slice's budget is spent; then yields. */
  private run(queue: DeliveryQueue): void {
    let budget = this.sliceSize;
    for (;;) {
      let batch = queue.batch;
      if (batch === null) {
        if (queue.pending.length === 0) return;
        batch = queue.batch = queue.pending;
        queue.pending = [];
        queue.cursor = queue.sinks.values();
        if (tracingActive()) queue.span = startDeliverySpan(queue.topic, batch.map(traceOfDelivery), queue.sinks.size);
      }
      const held = queue.held;
      if (held) {
        queue.held = null;
        if (queue.sinks.has(held)) {
          budget -= batch.length;
          this.handAll(batch, held);
        }
      }
      const cursor = queue.cursor!;
      for (;;) {
        const next = cursor.next();
        if (next.done) break;
        if (budget <= 0) {
          // Taken from the cursor already: the next slice starts with it, unless it left meanwhile.
          queue.held = next.value;
          setImmediate(() => this.run(queue));
          return;
        }
        budget -= batch.length;
        this.handAll(batch, next.value);
      }
      queue.batch = null;
      queue.cursor = null;
      queue.span?.end();
      queue.span = null;
    }
  }

  private handAll(batch: readonly Delivery[], sink: Sink): void {
    for (const delivery of batch) this.hand(delivery, sink);
  }

  private hand(delivery: Delivery, sink: Sink): void {
    try {
      if (delivery === INTERRUPTED) sink.interrupted();
      else sink.entry(delivery);
    } catch (error) {
      this.onSinkError(error);
    }
  }
}
