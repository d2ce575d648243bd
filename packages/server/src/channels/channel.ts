import { tracked, TRPCError, type TrackedEnvelope } from '@trpc/server';
import { transformer, type ChannelEvent, type PresenceEvent, type PresenceMember } from '@herald/shared';
import { z } from 'zod';
import type { Broker, BrokerEntry, PresenceChange, PresenceRecord, Retention } from '../brokers/broker.js';
import { BrokerUnavailableError } from '../brokers/errors.js';
import { nextPublishOnce } from '../brokers/publishOnce.js';
import { HeraldError } from '../errors.js';
import { tracedPublish } from '../observability/tracing.js';
import type { FanoutRegistry } from './fanout.js';
import { retryThroughOutage } from './brokerRetry.js';
import { ChannelStream } from './channelStream.js';
import type { DecodedEntries } from './decodedEntries.js';
import type { NativeStream } from './nativeStream.js';
import { streamTopics } from './streamTopics.js';
import { ChannelSubscriber, type EventSink } from './subscriber.js';
import { SubscriberQueue } from './subscriberQueue.js';
import { lastingId } from '../ids.js';

/**
 * A channel's declaration (`herald.channel(name, options)`): zod 4 schemas for
 * its key, messages and presence, and how much history each key keeps.
 * `herald.channel` checks them and throws at once when one is wrong.
 */
export interface ChannelOptions<
  TKey extends z.ZodType<string, unknown>,
  TMessage extends z.ZodType,
  TPresence extends z.ZodType,
> {
  /** Schema of the key that splits the channel into independent streams (a room, a user). */
  key: TKey;
  /** Schema every published message must pass; nothing failing it is stored or delivered. */
  message: TMessage;
  /** Schema of what a subscriber shows others in presence. Omit for a channel without presence. */
  presence?: TPresence;
  /**
   * Called on the subscriber's node once its presence join is stored, and
   * once its leave is stored (its stream ended), with the key and which it
   * was: for what follows from membership, such as a publish on a live
   * query's dependency so that member counts stay current, while the stream
   * itself still goes out on the native write path. A throw or rejection is
   * reported through `createHerald`'s `onError`; the subscription goes on. A
   * member whose node died leaves through the presence timeout, without a call.
   * @default none
   */
  onPresenceChange?: (change: PresenceChangeNotice) => void | Promise<void>;
  /**
   * How much history each key keeps for resume and `history()`.
   * @default { size: 1_000, ttlMs: 86_400_000 } (24 hours)
   */
  history?: Partial<Retention>;
  /**
   * How many messages a subscriber may fall behind live delivery before its
   * backlog is dropped and it catches up from history instead.
   * @default 10_000
   */
  subscriberBufferSize?: number;
}

/** What `onPresenceChange` is told: the key whose presence changed, and whether a subscriber joined it or left. */
export interface PresenceChangeNotice {
  readonly key: string;
  readonly type: 'join' | 'leave';
}

/** The defaults of `ChannelOptions`, merged under a channel's options. */
export const channelDefaults = {
  history: { size: 1_000, ttlMs: 24 * 60 * 60 * 1000 } satisfies Retention,
  subscriberBufferSize: 10_000,
};

/** A message with its position, as `history()` returns it. */
export interface PositionedMessage<TMessage> {
  /** Its position (a stream id); a stream resumed from it continues after this message. */
  readonly id: string;
  /** The message, as the channel's `message` schema parsed it. */
  readonly message: TMessage;
}

/** What a caller wants to do with a channel key, as `authorize` sees it. */
export type ChannelAction = 'subscribe' | 'publish';

/** What `createHerald({ authorize })` is asked about: who (`ctx`), which channel and key, and what for. */
export interface AuthorizeRequest<TCtx> {
  /** The `ctx` the call passed, or `null` when it passed none (server code). */
  readonly ctx: TCtx | null;
  /** The channel's name. */
  readonly channel: string;
  /** The key, as its schema parsed it. */
  readonly key: string;
  /** `subscribe` for `stream`, `presenceEvents`, `history` and `members`; `publish` for `publish`. */
  readonly action: ChannelAction;
}

/** `createHerald({ authorize })`: true to allow; false or a throw refuses with `FORBIDDEN`. */
export type Authorize<TCtx> = (request: AuthorizeRequest<TCtx>) => boolean | Promise<boolean>;

/** Who is asking, for `authorize`: pass the procedure's `ctx`. */
export interface CallerOptions {
  /**
   * The tRPC context of the call, for `createHerald({ authorize })`; omit it
   * in server code.
   * @default none: `authorize` sees `ctx: null`
   */
  ctx?: unknown;
}

/** Options of `channel.stream`: where to resume, when to stop, and presence. */
export interface StreamOptions<TPresenceInfo> extends CallerOptions {
  /** Resume after this position (tRPC passes it as `input.lastEventId`). */
  lastEventId?: string | null | undefined;
  /** Ends the stream; pass the procedure's `signal`. */
  signal?: AbortSignal | undefined;
  /** Join the key's presence with this info while subscribed. */
  presence?: TPresenceInfo | undefined;
}

/**
 * One key of a channel, named as a live query's dependency
 * (`dependsOn: (input) => [rooms.key(input.room)]`): every publish on it
 * makes the query's results for that input stale.
 */
export interface ChannelKeyRef {
  /** The channel's name. */
  readonly channel: string;
  /** The key, as the channel's key schema parsed it. */
  readonly key: string;
  /** The broker topic its messages are published on (`<channel>:<key>`). */
  readonly topic: string;
  /** The channel's history retention (a live query reads the topic's head with it). */
  readonly retention: Retention;
}

/** The zod shape a resumable subscription's input must include (tRPC merges `lastEventId` into it). */
export const resumeInput = {
  /** The position to resume after (a stream id), or none for a fresh subscription. */
  lastEventId: z.string().max(64).nullish(),
};

/**
 * A declared channel (`herald.channel(...)`): publish to a key, stream a key
 * to subscribers (return `stream()` from a tRPC subscription procedure), read
 * its history and presence.
 */
export interface Channel<TKeyIn, TMessageIn, TMessage, TPresenceIn, TPresence> {
  /** The name it was declared with (`herald.channel(name, ...)`). */
  readonly name: string;
  /**
   * `key` as a live query's dependency (`herald.live(query, { dependsOn })`).
   * Throws `INVALID_KEY` when the key fails the channel's key schema.
   */
  key(key: TKeyIn): ChannelKeyRef;
  /** Validates, stores in history and delivers to every subscriber of `key`. Resolves with the message's id. */
  publish(key: TKeyIn, message: TMessageIn, options?: CallerOptions): Promise<string>;
  /**
   * The events of one key for a tRPC subscription procedure: replay after
   * `lastEventId` (or a gap notice), a `live` marker, then live messages, each
   * `tracked` with its position.
   */
  stream(key: TKeyIn, options?: StreamOptions<TPresenceIn>): AsyncGenerator<TrackedEnvelope<ChannelEvent<TMessage>>, void, unknown>;
  /**
   * The newest `limit` messages of `key`, oldest first, and the position to
   * resume a stream from. Each message is decoded once per node and shared
   * by every read of it (as a live message is shared by every subscriber):
   * read it, map it, but do not change it in place.
   */
  history(key: TKeyIn, options?: { limit?: number } & CallerOptions): Promise<{ messages: PositionedMessage<TMessage>[]; position: string }>;
  /** Who is subscribed to `key` now, across every node. */
  members(key: TKeyIn, options?: CallerOptions): Promise<PresenceMember<TPresence>[]>;
  /** A snapshot of `key`'s members, then join and leave events. Not resumable: a resubscribe gets a new snapshot. */
  presenceEvents(
    key: TKeyIn,
    options?: { signal?: AbortSignal | undefined } & CallerOptions,
  ): AsyncGenerator<PresenceEvent<TPresence>, void, unknown>;
}

export interface ChannelRuntime {
  readonly broker: Broker;
  readonly fanout: FanoutRegistry;
  readonly onError: (error: unknown) => void;
  readonly authorize?: Authorize<unknown> | undefined;
  /** Counts this Herald's channels keep (the admin page reads them). */
  readonly counts: { published: number; resumed: number };
  /** History entries decoded once and shared by every read of them on this node. */
  readonly decoded: DecodedEntries;
}

export function createChannel<
  TKey extends z.ZodType<string, unknown>,
  TMessage extends z.ZodType,
  TPresence extends z.ZodType = z.ZodNever,
>(
  name: string,
  options: ChannelOptions<TKey, TMessage, TPresence>,
  runtime: ChannelRuntime,
): Channel<z.input<TKey>, z.input<TMessage>, z.output<TMessage>, z.input<TPresence>, z.output<TPresence>> {
  type Message = z.output<TMessage>;
  type PresenceInfo = z.output<TPresence>;
  const { broker, fanout } = runtime;
  const retention: Retention = { ...channelDefaults.history, ...options.history };
  const bufferSize = options.subscriberBufferSize ?? channelDefaults.subscriberBufferSize;

  function topicOf(key: unknown): string {
    const parsed = options.key.safeParse(key);
    if (!parsed.success) {
      throw new HeraldError('INVALID_KEY', `Channel "${name}": invalid key: ${z.prettifyError(parsed.error)}`, {
        cause: parsed.error,
      });
    }
    return `${name}:${parsed.data}`;
  }

  /** Refuses with FORBIDDEN unless `authorize` (if there is one) allows `action` on `topic`. */
  async function authorized(action: ChannelAction, topic: string, ctx: unknown): Promise<void> {
    const authorize = runtime.authorize;
    if (!authorize) return;
    const key = topic.slice(name.length + 1);
    const refusal = `Not allowed to ${action} on channel "${name}", key "${key}"`;
    let allowed: boolean;
    try {
      allowed = await authorize({ ctx: ctx ?? null, channel: name, key, action });
    } catch (cause) {
      if (cause instanceof TRPCError) throw cause;
      throw new HeraldError('FORBIDDEN', refusal, { cause });
    }
    if (allowed !== true) throw new HeraldError('FORBIDDEN', refusal);
  }

  /** Runs a broker call, reporting any failure as BROKER_UNAVAILABLE with what did not happen. */
  async function brokerCall<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw brokerFailure(what, error);
    }
  }

  function brokerFailure(what: string, error: unknown): HeraldError {
    const reason = error instanceof Error ? error.message : String(error);
    return new HeraldError('BROKER_UNAVAILABLE', `Channel "${name}": ${what}: ${reason}`, { cause: error });
  }

  const decodeIn = (topic: string) => (entry: BrokerEntry): PositionedMessage<Message> => ({
    id: entry.id,
    message: runtime.decoded.decode<Message>(topic, entry),
  });

  const decodePresence = (record: PresenceRecord): PresenceMember<PresenceInfo> => ({
    clientId: record.clientId,
    joinedAt: record.joinedAt,
    info: transformer.parse<PresenceInfo>(record.info),
  });

  /** `onPresenceChange`, called once per join or leave stored on this node, its failures reported (one function per channel). */
  const onPresenceChange = options.onPresenceChange;
  const announcePresence = onPresenceChange
    ? (topic: string, type: 'join' | 'leave'): void => {
        try {
          Promise.resolve(onPresenceChange({ key: topic.slice(name.length + 1), type })).catch(runtime.onError);
        } catch (error) {
          runtime.onError(error);
        }
      }
    : null;

  const subscriberContext = { broker, fanout, retention, bufferSize, onError: runtime.onError, decoded: runtime.decoded };

  function openStream(key: z.input<TKey>, streamOptions: StreamOptions<z.input<TPresence>>) {
    const topic = topicOf(key);
    const presenceInfo =
      streamOptions.presence !== undefined && options.presence ? options.presence.parse(streamOptions.presence) : undefined;
    // Checked once per stream, whichever way it is consumed; `prepare` lets a
    // connection ask before it announces the subscription.
    // Closures below outlive the subscription's start: they capture `ctx`, not the options (and their signal).
    const ctx = streamOptions.ctx;
    let check: Promise<void> | null = null;
    // Without an `authorize` option there is nothing to check, and no promise to wait for.
    const authorize = runtime.authorize ? () => (check ??= authorized('subscribe', topic, ctx)) : null;

    const open = async (sink: EventSink, from: string | null, signal?: AbortSignal) => {
      if (authorize) await authorize();
      const subscriber = new ChannelSubscriber(subscriberContext, topic, from, sink);
      // A consumer that leaves while the subscription waits for the broker stops the wait.
      const stop = () => subscriber.close();
      signal?.addEventListener('abort', stop, { once: true });
      try {
        await subscriber.start();
      } catch (error) {
        subscriber.close();
        throw brokerFailure('subscribe failed', error);
      } finally {
        signal?.removeEventListener('abort', stop);
      }
      let presenceClientId: string | null = null;
      // A consumer that left while the subscription waited does not join presence on its way out.
      if (presenceInfo !== undefined && !signal?.aborted) {
        const record = { clientId: lastingId(), info: transformer.stringify(presenceInfo), joinedAt: Date.now() };
        try {
          // Waits out a broker that is away, as the subscription's start did.
          await brokerCall('presence join failed', () => retryThroughOutage(() => broker.presence.join(topic, record), runtime.onError, signal));
        } catch (error) {
          subscriber.close();
          throw error;
        }
        presenceClientId = record.clientId;
        announcePresence?.(topic, 'join');
      }
      return new OpenStream(
        subscriber,
        topic,
        authorized,
        presenceClientId === null ? null : { broker, topic, clientId: presenceClientId, onError: runtime.onError, announce: announcePresence },
      );
    };
    return { open, authorize, topic };
  }

  function stream(key: z.input<TKey>, streamOptions: StreamOptions<z.input<TPresence>> = {}) {
    const { open, authorize, topic } = openStream(key, streamOptions);
    const from = streamOptions.lastEventId ?? null;
    if (from !== null) runtime.counts.resumed++;
    const givenSignal = streamOptions.signal;

    // The adapter for consumers that iterate: a bounded queue between the
    // subscriber and the generator. When the consumer falls behind, the
    // backlog is dropped and the subscriber resyncs from the last position
    // the consumer actually took.
    async function* iterate(): AsyncGenerator<TrackedEnvelope<ChannelEvent<Message>>, void, unknown> {
      // Room for a whole history replay (at most `retention.size` messages and
      // two markers) on top of the live allowance: a replay is pushed in one go,
      // so a smaller queue would overflow on every resync and never catch up.
      const queue = new SubscriberQueue<{ position: string; event: ChannelEvent<Message> }>(bufferSize + retention.size + 2);
      const signal = givenSignal ?? new AbortController().signal;
      const handle = await open({ deliver: (shared) => queue.push({ position: shared.position, event: shared.event as ChannelEvent<Message> }) }, from, givenSignal);
      // An HTTP event stream iterating this generator lists the topic for the admin page (`streamTopics`).
      const streamed = streamTopics.getStore();
      streamed?.add(topic);
      let consumed = from;
      try {
        while (!signal.aborted) {
          await queue.wait(signal);
          if (queue.takeResync()) {
            handle.subscriber.resync(consumed);
            continue;
          }
          for (const item of queue.drain()) {
            consumed = item.position;
            yield tracked(item.position, item.event);
          }
        }
      } finally {
        streamed?.delete(topic);
        await handle.close();
      }
    }

    const native: NativeStream = {
      ...(authorize ? { prepare: authorize } : {}),
      open: (sink) => open(sink, from),
    };
    // The generator is made on first use: a connection that writes the stream
    // straight to its socket (NATIVE_STREAM) never steps it.
    return new ChannelStream(iterate, native);
  }

  return {
    name,

    key(key) {
      const topic = topicOf(key);
      return { channel: name, key: topic.slice(name.length + 1), topic, retention };
    },

    async publish(key, message, publishOptions = {}) {
      const topic = topicOf(key);
      await authorized('publish', topic, publishOptions.ctx);
      const parsed = options.message.safeParse(message);
      if (!parsed.success) {
        throw new HeraldError('INVALID_MESSAGE', `Channel "${name}": message rejected: ${z.prettifyError(parsed.error)}`, {
          cause: parsed.error,
        });
      }
      runtime.counts.published++;
      try {
        // In a keyed mutation the publish is made once per key (`PublishOnce`): a rerun finds it.
        const data = transformer.stringify(parsed.data);
        const once = nextPublishOnce();
        return await tracedPublish(name, topic, (trace) => broker.publish(topic, data, retention, once, trace));
      } catch (error) {
        throw brokerFailure(
          error instanceof BrokerUnavailableError && error.outcomeUnknown
            ? 'publish failed, and the message may have been stored'
            : 'publish failed, the message was not stored',
          error,
        );
      }
    },

    stream,

    async history(key, historyOptions = {}) {
      const topic = topicOf(key);
      await authorized('subscribe', topic, historyOptions.ctx);
      const limit = Math.max(0, Math.min(historyOptions.limit ?? retention.size, retention.size));
      const read = await brokerCall('history read failed', () => broker.readLatest(topic, limit, retention));
      return { messages: read.entries.map(decodeIn(topic)), position: read.head };
    },

    async members(key, membersOptions = {}) {
      const topic = topicOf(key);
      await authorized('subscribe', topic, membersOptions.ctx);
      const records = await brokerCall('presence list failed', () => broker.presence.list(topic));
      return records.map(decodePresence);
    },

    async *presenceEvents(key, presenceOptions = {}) {
      const topic = topicOf(key);
      await authorized('subscribe', topic, presenceOptions.ctx);
      const signal = presenceOptions.signal ?? new AbortController().signal;
      const queue = new SubscriberQueue<PresenceChange>(bufferSize);
      const unsubscribe = await brokerCall('presence subscribe failed', () => broker.presence.subscribe(topic, {
          onEvent: (change) => queue.push(change),
          // Missed events cannot be replayed; a new snapshot replaces them.
          onInterrupted: () => queue.requestResync(),
        }));
      try {
        while (!signal.aborted) {
          // Snapshot after subscribing: a change racing the list shows up
          // twice at worst, and members are keyed by clientId, so that is harmless.
          const records = await brokerCall('presence list failed', () => broker.presence.list(topic));
          yield { type: 'snapshot', members: records.map(decodePresence) } as PresenceEvent<PresenceInfo>;
          while (!signal.aborted) {
            await queue.wait(signal);
            if (queue.takeResync()) break;
            for (const change of queue.drain()) {
              yield (change.type === 'join'
                ? { type: 'join', member: decodePresence(change.record) }
                : { type: 'leave', clientId: change.clientId }) as PresenceEvent<PresenceInfo>;
            }
          }
        }
      } finally {
        await unsubscribe().catch(runtime.onError);
      }
    },
  };
}

/**
 * A stream once open: what stays in memory for as long as the subscription
 * lives (no closure over the call that opened it). Closing it leaves presence
 * if the stream joined it.
 */
class OpenStream {
  constructor(
    readonly subscriber: ChannelSubscriber,
    /** The topic it delivers (the admin page's connections per channel). */
    readonly topic: string,
    /** The channel's `authorize` check (one function per channel, not per stream). */
    private readonly authorized: (action: ChannelAction, topic: string, ctx: unknown) => Promise<void>,
    private readonly presence: {
      readonly broker: Broker;
      readonly topic: string;
      readonly clientId: string;
      readonly onError: (error: unknown) => void;
      /** The channel's `onPresenceChange`, if it has one. */
      readonly announce: ((topic: string, type: 'join' | 'leave') => void) | null;
    } | null,
  ) {}

  /** Checks the subscription again with a new context (credentials refreshed); rejects with FORBIDDEN when it is no longer allowed. */
  authorize(ctx: unknown): Promise<void> {
    return this.authorized('subscribe', this.topic, ctx);
  }

  async close(): Promise<void> {
    this.subscriber.close();
    const presence = this.presence;
    if (!presence) return;
    const left = await presence.broker.presence.leave(presence.topic, presence.clientId).then(
      () => true,
      (error: unknown) => {
        presence.onError(error);
        return false;
      },
    );
    if (left) presence.announce?.(presence.topic, 'leave');
  }
}
