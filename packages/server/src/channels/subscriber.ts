import type { ChannelEvent } from '@herald/shared';
import type { Broker, ReadAfterResult, Retention } from '../brokers/broker.js';
import { compareStreamIds, formatStreamId, parseStreamId, previousStreamId, type StreamId } from '../brokers/streamId.js';
import { delay, isFinal, retryDelayMs, START_WAIT_MS } from './brokerRetry.js';
import type { DecodedEntries } from './decodedEntries.js';
import type { DecodedEntry, FanoutRegistry, Sink } from './fanout.js';
import { SharedEvent } from './sharedEvent.js';

/** Where a subscription's events go, in position order. */
export interface EventSink {
  /**
   * One event at its position. For live messages (and live query results) it is the same object for
   * every local subscriber, so serialization and framing happen once per message.
   * `previous`: for a live query's result, the result this subscriber got
   * last, from which a patch may go instead.
   */
  deliver(event: SharedEvent, previous?: SharedEvent | null): void;
  /**
   * The stream ended with `error` and delivers nothing more: a live query
   * whose recompute refused the subscriber's context. (Channel streams never
   * end this way: they wait out broker outages.)
   */
  end?(error: unknown): void;
}

/** What every subscriber of one channel shares (one object per channel; the topic is the subscriber's own). */
export interface SubscriberContext {
  readonly broker: Broker;
  readonly fanout: FanoutRegistry;
  readonly retention: Retention;
  /** Live messages buffered while history is read, before a resync is forced. */
  readonly bufferSize: number;
  readonly onError: (error: unknown) => void;
  /** Replayed entries are decoded through it, once per node however many subscribers replay them. */
  readonly decoded: DecodedEntries;
}

/**
 * One subscription to one topic: the resume algorithm, written once for every
 * way events leave the server.
 *
 * ```
 *  start(from) ──attach live (buffering)──▶ readAfter(from) ──▶ gap? ─▶ replay ─▶ live marker
 *                                                                            │
 *        ┌──────── buffered live entries, ids <= last skipped ◀─────────────┘
 *        ▼
 *      live: each entry with id > last is delivered; broker interruption or
 *            a forced resync (overflow) goes back to readAfter(last)
 * ```
 *
 * It is its own fan-out sink (`entry`, `interrupted`): an open subscription
 * costs this object and its place in the topic's set, not a closure per callback.
 */
export class ChannelSubscriber implements Sink {
  private mode: 'idle' | 'catching-up' | 'live' | 'closed' = 'idle';
  /** Live entries that arrived while history is read; null while there are none (most catch-ups). */
  private buffer: DecodedEntry[] | null = null;
  private bufferOverflowed = false;
  private last: StreamId | null = null;
  private lastId: string | null;
  /** Bumped by every catch-up, so a slow one that was superseded does nothing. */
  private generation = 0;
  private attached = false;
  /** Made only when a resync has to wait out a broker outage (most subscribers never need one). */
  private stopped: AbortController | null = null;

  constructor(
    private readonly ctx: SubscriberContext,
    private readonly topic: string,
    from: string | null,
    private readonly sink: EventSink,
  ) {
    this.lastId = from;
  }

  /**
   * Attaches and delivers history. While the broker is away (down, failing
   * over, a cluster slot moving) it retries with capped, full-jitter backoff,
   * reporting the first failure through `onError`; it rejects with the last
   * failure after `START_WAIT_MS`, or at once when the broker is closed.
   * The subscriber sees nothing meanwhile: its `live` marker comes once it
   * has caught up. Resolves early, doing nothing more, once closed.
   */
  async start(): Promise<void> {
    const deadline = Date.now() + START_WAIT_MS;
    for (let attempt = 0; !this.attached; attempt++) {
      try {
        const attaching = this.ctx.fanout.attach(this.topic, this);
        if (attaching) await attaching;
        this.attached = true;
      } catch (error) {
        // A failed attach leaves no sink behind (FanoutRegistry.attach): the next attempt subscribes anew.
        if (!(await this.waitToRetry(error, attempt, deadline))) return;
      }
    }
    if (this.isClosed()) {
      this.ctx.fanout.detach(this.topic, this);
      return;
    }
    await this.catchUp(this.lastId, deadline);
  }

  /**
   * Drops what is buffered and reads history again after `from` (the last
   * position the consumer really took), waiting out broker outages.
   */
  resync(from: string | null): void {
    if (this.mode === 'closed') return;
    this.lastId = from;
    this.catchUp(from, null).catch(this.ctx.onError);
  }

  /** Read through a method: `mode` changes across awaits, which narrowing cannot see. */
  private isClosed(): boolean {
    return this.mode === 'closed';
  }

  close(): void {
    if (this.mode === 'closed') return;
    this.mode = 'closed';
    this.buffer = null;
    this.stopped?.abort();
    if (this.attached) this.ctx.fanout.detach(this.topic, this);
  }

  /** The fan-out's callback: live delivery may have skipped entries. */
  interrupted(): void {
    this.resync(this.lastId);
  }

  /** Reads history after `from` (retrying until `deadline`, or for as long as it takes when null) and goes live. */
  private async catchUp(from: string | null, deadline: number | null): Promise<void> {
    const generation = ++this.generation;
    this.mode = 'catching-up';
    this.buffer = null;
    this.bufferOverflowed = false;
    const read = await this.readWithRetry(from, deadline);
    if (!read || generation !== this.generation || this.isClosed()) return;

    if (read.gap) {
      // After a `reset` the broker may replay what it stored since; the
      // notice's position sits just before that, so a resume from it replays it.
      const first = read.entries[0] ? parseStreamId(read.entries[0].id) : null;
      this.emit(first ? formatStreamId(previousStreamId(first)) : read.head, { type: 'gap', reason: read.gap });
    }
    for (const entry of read.entries) {
      this.emit(entry.id, { type: 'message', message: this.ctx.decoded.decode(this.topic, entry) });
    }
    this.last = parseStreamId(read.head);
    this.lastId = read.head;
    this.emit(read.head, { type: 'live', replayed: read.entries.length });

    if (this.bufferOverflowed) {
      // Live delivery outran the history read; read again from where we are.
      this.catchUp(this.lastId, null).catch(this.ctx.onError);
      return;
    }
    const buffered = this.takeBuffered();
    this.mode = 'live';
    if (buffered) for (const entry of buffered) this.entry(entry);
  }

  /** What was buffered during the read (a method: the field changes across awaits, which narrowing cannot see). */
  private takeBuffered(): DecodedEntry[] | null {
    const buffered = this.buffer;
    this.buffer = null;
    return buffered;
  }

  /** The fan-out's callback: one live entry (buffered while history is read). */
  entry(entry: DecodedEntry): void {
    if (this.mode === 'closed' || this.mode === 'idle') return;
    if (this.mode === 'catching-up') {
      if ((this.buffer?.length ?? 0) >= this.ctx.bufferSize) {
        this.buffer = null;
        this.bufferOverflowed = true;
      } else if (!this.bufferOverflowed) {
        (this.buffer ??= []).push(entry);
      }
      return;
    }
    if (this.last && compareStreamIds(entry.position, this.last) <= 0) return;
    this.last = entry.position;
    this.lastId = entry.id;
    this.sink.deliver(entry.shared);
  }

  private emit(position: string, event: ChannelEvent<unknown>): void {
    this.sink.deliver(new SharedEvent(position, event));
  }

  /** History after `from`, retried through broker outages (see `waitToRetry`); null once closed. */
  private async readWithRetry(from: string | null, deadline: number | null): Promise<ReadAfterResult | null> {
    for (let attempt = 0; !this.isClosed(); attempt++) {
      try {
        return await this.ctx.broker.readAfter(this.topic, from, this.ctx.retention);
      } catch (error) {
        if (!(await this.waitToRetry(error, attempt, deadline))) return null;
      }
    }
    return null;
  }

  /**
   * After failed attempt `attempt`: reports the first failure, waits its
   * backoff, and says whether to try again (false once closed). Throws
   * `error` when the broker is closed or `deadline` has passed.
   */
  private async waitToRetry(error: unknown, attempt: number, deadline: number | null): Promise<boolean> {
    if (this.isClosed()) return false;
    if (isFinal(error)) throw error;
    if (deadline !== null && Date.now() >= deadline) throw error;
    if (attempt === 0) this.ctx.onError(error);
    await delay(retryDelayMs(attempt), (this.stopped ??= new AbortController()).signal);
    return !this.isClosed();
  }
}
