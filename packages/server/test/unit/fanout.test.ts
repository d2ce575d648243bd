import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transformer } from '@herald/shared';
import type { Broker } from '../../src/brokers/broker.js';
import { memoryBroker } from '../../src/brokers/memory.js';
import { FanoutRegistry, MAX_WAITING_DELIVERIES, setFanoutSliceSize, type DecodedEntry, type Sink } from '../../src/channels/fanout.js';

const TOPIC = 'numbers:s';
const RETENTION = { size: 1_000, ttlMs: 60_000 };
const SLICE = 4;

/** Every delivery of every sink, in the order they happened. */
type Log = { sink: number; n: number }[];

class RecordingSink implements Sink {
  readonly received: number[] = [];
  interruptions = 0;
  /** Runs once, when the sink receives its first entry. */
  onFirst: (() => void) | null = null;

  constructor(
    readonly number: number,
    private readonly log: Log,
  ) {}

  entry(entry: DecodedEntry): void {
    const n = (entry.value as { n: number }).n;
    this.received.push(n);
    this.log.push({ sink: this.number, n });
    const first = this.onFirst;
    this.onFirst = null;
    first?.();
  }

  interrupted(): void {
    this.interruptions++;
  }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('FanoutRegistry', () => {
  let broker: Broker;
  let registry: FanoutRegistry;
  let errors: unknown[];
  let log: Log;
  let previousSlice: number;

  beforeEach(() => {
    previousSlice = setFanoutSliceSize(SLICE);
    broker = memoryBroker();
    errors = [];
    log = [];
    registry = new FanoutRegistry(broker, (error) => errors.push(error));
  });
  afterEach(async () => {
    setFanoutSliceSize(previousSlice);
    await broker.close();
  });

  async function attachSinks(count: number, from = 0): Promise<RecordingSink[]> {
    const sinks = range(from, from + count - 1).map((number) => new RecordingSink(number, log));
    for (const sink of sinks) await registry.attach(TOPIC, sink);
    return sinks;
  }

  const publish = (n: number) => broker.publish(TOPIC, transformer.stringify({ n }), RETENTION);

  /** Lets the pending slices run until every sink in `sinks` has `count` entries (bounded). */
  async function settle(sinks: readonly RecordingSink[], count: number): Promise<void> {
    for (let i = 0; i < 10_000 && sinks.some((sink) => sink.received.length < count); i++) await turn();
  }

  it('hands an entry to a slice of sinks at a time, yielding to the event loop between slices', async () => {
    const sinks = await attachSinks(10);
    await publish(1);
    expect(sinks.filter((sink) => sink.received.length === 1)).toHaveLength(SLICE);
    await turn();
    expect(sinks.filter((sink) => sink.received.length === 1)).toHaveLength(2 * SLICE);
    await turn();
    expect(sinks.map((sink) => sink.received)).toEqual(sinks.map(() => [1]));
  });

  it('serves a topic no larger than a slice at once, as one loop', async () => {
    const sinks = await attachSinks(SLICE);
    await publish(1);
    await publish(2);
    expect(sinks.map((sink) => sink.received)).toEqual(sinks.map(() => [1, 2]));
  });

  it('hands several rapid messages to every sink once and in order: the first alone, those that waited for it as one batch per sink', async () => {
    const sinks = await attachSinks(23);
    await Promise.all(range(1, 7).map((n) => publish(n)));
    await settle(sinks, 7);
    expect(sinks.map((sink) => sink.received)).toEqual(sinks.map(() => range(1, 7)));
    expect(log).toHaveLength(23 * 7);
    // Message 1 reached every sink before any later one did.
    expect(log.slice(0, 23).every((delivery) => delivery.n === 1)).toBe(true);
    // Then each sink got 2..7 in one run (its frames leave in one write), sink after sink.
    const rest = log.slice(23);
    for (let i = 0; i < rest.length; i += 6) {
      expect(rest.slice(i, i + 6)).toEqual(range(2, 7).map((n) => ({ sink: rest[i]!.sink, n })));
    }
    expect(errors).toEqual([]);
  });

  it('spends the slice budget per delivery: a batch of messages takes proportionally fewer sinks per slice', async () => {
    const sinks = await attachSinks(10);
    const published = Promise.all([publish(1), publish(2), publish(3)]); // 1 goes out at once; 2 and 3 wait for it, then go together
    const perTurn = [log.length];
    for (let i = 0; i < 100 && sinks.some((sink) => sink.received.length < 3); i++) {
      await turn();
      perTurn.push(log.length - perTurn.reduce((sum, n) => sum + n, 0));
    }
    await published;
    expect(sinks.map((sink) => sink.received)).toEqual(sinks.map(() => [1, 2, 3]));
    // 30 deliveries, at most a slice's worth per turn of the event loop.
    expect(perTurn.every((count) => count <= SLICE)).toBe(true);
    expect(perTurn.filter((count) => count > 0).length).toBeGreaterThanOrEqual(30 / SLICE);
  });

  it('reaches a sink that joins during a sliced delivery with that delivery, and skips one that left', async () => {
    const sinks = await attachSinks(12);
    const joiner = new RecordingSink(100, log);
    const leaver = sinks[10]!;
    // Sink 1 acts while message 1 is halfway through the topic's sinks.
    sinks[1]!.onFirst = () => {
      void registry.attach(TOPIC, joiner);
      registry.detach(TOPIC, leaver);
    };
    await Promise.all([publish(1), publish(2)]);
    await settle([...sinks.filter((sink) => sink !== leaver), joiner], 2);
    expect(joiner.received).toEqual([1, 2]);
    expect(leaver.received).toEqual([]);
    for (const sink of sinks) if (sink !== leaver) expect(sink.received).toEqual([1, 2]);
  });

  it('keeps delivering to the remaining sinks when one throws, and reports the error', async () => {
    const sinks = await attachSinks(9);
    const failing = sinks[5]!;
    failing.entry = () => {
      throw new Error('sink failed');
    };
    await publish(1);
    await settle(sinks.filter((sink) => sink !== failing), 1);
    expect(sinks.filter((sink) => sink !== failing).every((sink) => sink.received.length === 1)).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('drops what waits past MAX_WAITING_DELIVERIES and tells every sink to catch up from history instead', async () => {
    const sinks = await attachSinks(2 * SLICE);
    const entriesBeforeNotice = new Map<RecordingSink, number>();
    for (const sink of sinks) sink.interrupted = () => void entriesBeforeNotice.set(sink, sink.received.length);
    // Message 1 is handed to the first slice at once; 2 .. MAX+1 arrive while it is under way and wait;
    // MAX+2 finds the queue full: the waiting ones are dropped for the notice, and MAX+3 on wait behind it.
    await publish(1);
    const last = MAX_WAITING_DELIVERIES + 11;
    for (const n of range(2, last)) await publish(n);
    await settle(sinks, 1 + last - (MAX_WAITING_DELIVERIES + 2));
    for (const sink of sinks) {
      expect(sink.received).toEqual([1, ...range(MAX_WAITING_DELIVERIES + 3, last)]);
      expect(entriesBeforeNotice.get(sink)).toBe(1);
    }
  });

  it('refuses a slice size that is not a positive integer', () => {
    expect(() => setFanoutSliceSize(0)).toThrow(RangeError);
    expect(() => setFanoutSliceSize(1.5)).toThrow(RangeError);
  });
});
