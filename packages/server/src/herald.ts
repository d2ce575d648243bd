import { randomUUID } from 'node:crypto';
import type { AnyQueryProcedure, inferProcedureInput, inferProcedureOutput } from '@trpc/server';
import type { z } from 'zod';
import type { Broker, Retention } from './brokers/broker.js';
import { memoryBroker } from './brokers/memory.js';
import { loadTracing } from './observability/tracing.js';
import { checkChannelOptions } from './channels/checkOptions.js';
import { channelDefaults, createChannel, type Authorize, type Channel, type ChannelOptions } from './channels/channel.js';
import { DecodedEntries } from './channels/decodedEntries.js';
import { FanoutRegistry } from './channels/fanout.js';
import { createLiveQuery, type LiveQuery, type LiveQueryOptions } from './live/liveQuery.js';
import { connectionChannelDefaults, CONNECTION_CHANNEL_PREFIX, type ConnectionChannel, type ConnectionChannelOptions } from './channels/connectionChannel.js';
import { createPrivateChannel, PrivateKey, USER_CHANNEL_PREFIX, type UserChannel, type UserChannelOptions } from './channels/userChannel.js';

/** Options of `createHerald`: the broker, the node's name, error reporting and channel authorization. */
export interface HeraldOptions<TCtx = unknown> {
  /**
   * Where messages, history and presence live. Pass `redisBroker(...)` to run
   * several processes as one.
   * @default memoryBroker()
   */
  broker?: Broker;
  /**
   * This process's name in health output and logs.
   * @default a random UUID
   */
  nodeId?: string;
  /** Errors that have no caller to reach (a failed unsubscribe, a broken payload). @default console.error */
  onError?: (error: unknown) => void;
  /**
   * Decides who may subscribe to (`stream`, `presenceEvents`, and the reads
   * `history` and `members`) and publish on each channel key. It gets the
   * `ctx` the call passed (`rooms.stream(key, { ctx })`), or `null` when it
   * passed none (server code: timers, scripts; decide whether to trust it).
   * Return false (or throw) to refuse: the call fails with `FORBIDDEN` and,
   * for a subscription, nothing is sent but the error. Runs once per
   * subscribe or publish, never per delivered message.
   * @default none: every call is allowed
   */
  authorize?: Authorize<TCtx>;
}

/**
 * The channels of one server process and the broker behind them. Declare
 * channels on it, publish from anywhere, and hand it to `createHeraldServer`
 * so health and shutdown cover it.
 */
export interface Herald {
  /** This process's name in health output and logs (`createHerald({ nodeId })`, else a random UUID). */
  readonly nodeId: string;
  /** The broker its channels publish through (`createHerald({ broker })`, else a memory broker). */
  readonly broker: Broker;
  /**
   * Declares a channel: a named stream of messages split by key (a room, a
   * user), with history for resume and optional presence. The name
   * (`[A-Za-z0-9_.-]`, at most 128 characters) must be unique on this Herald;
   * the options are checked at once (zod 4 schemas, history and buffer sizes
   * of at least 1), and a wrong one throws with what to pass instead.
   *
   * @example
   * ```ts
   * const rooms = herald.channel('rooms', {
   *   key: z.string().min(1).max(64),
   *   message: z.object({ author: z.string(), text: z.string().max(2_000) }),
   *   presence: z.object({ name: z.string() }),
   *   history: { size: 500 },
   * });
   * ```
   */
  channel<TKey extends z.ZodType<string, unknown>, TMessage extends z.ZodType, TPresence extends z.ZodType = z.ZodNever>(
    name: string,
    options: ChannelOptions<TKey, TMessage, TPresence>,
  ): Channel<z.input<TKey>, z.input<TMessage>, z.output<TMessage>, z.input<TPresence>, z.output<TPresence>>;
  /**
   * Makes an ordinary query procedure live (docs/live-queries.md):
   * keep `query` in the router as it is, and return `live.stream(input, { ctx, lastEventId, signal })`
   * from a subscription procedure. It yields the result now and after every publish
   * on the channel keys `dependsOn` names, each `tracked` with a version that only grows.
   *
   * @example
   * ```ts
   * const roomInfo = authed.input(z.object({ room: RoomName })).query(({ input }) => infoOf(input.room));
   * const roomInfoLive = herald.live(roomInfo, {
   *   name: 'chat.roomInfo',
   *   dependsOn: (input) => [rooms.key(input.room)],
   *   shareBy: (ctx: ChatContext) => ctx.user?.id ?? '',
   * });
   * // router: { roomInfo, onRoomInfo: authed.input(z.object({ room: RoomName, ...resumeInput }))
   * //   .subscription(({ input, ctx, signal }) => roomInfoLive.stream({ room: input.room }, { ctx, lastEventId: input.lastEventId, signal })) }
   * ```
   */
  live<TQuery extends AnyQueryProcedure, TCtx = unknown>(
    query: TQuery,
    options: LiveQueryOptions<inferProcedureInput<TQuery>, TCtx>,
  ): LiveQuery<inferProcedureInput<TQuery>, inferProcedureOutput<TQuery>, TCtx>;
  /**
   * Declares messages to one user: `send(userKey, message)` reaches each of
   * that user's subscriptions on every node, with a channel's ordering,
   * resume and once-only delivery (see `UserChannel`). The name follows the
   * rules of `channel` names, in a namespace of its own.
   *
   * @example
   * ```ts
   * const notices = herald.userChannel('notices', { message: z.object({ text: z.string() }) });
   * await notices.send('u_42', { text: 'Your export is ready' });
   * // the caller's own: the key comes from its context, never from its input
   * onNotice: authed.input(z.object({ ...resumeInput })).subscription(({ ctx, input, signal }) =>
   *   notices.stream(ctx.user.id, { lastEventId: input.lastEventId, signal }),
   * ),
   * ```
   */
  userChannel<TMessage extends z.ZodType>(name: string, options: UserChannelOptions<TMessage>): UserChannel<z.input<TMessage>, z.output<TMessage>>;
  /**
   * Declares messages to one connection: `send(connectionId, message)`
   * reaches that connection's subscriptions on whichever node it is, and no
   * other connection of its user, with a channel's ordering, resume and
   * once-only delivery (see `ConnectionChannel`). `connectionId` is what
   * `createContext` was given; keep it in the context. The name follows the
   * rules of `channel` names, in a namespace of its own.
   *
   * @example
   * ```ts
   * const direct = herald.connectionChannel('direct', { message: z.object({ text: z.string() }) });
   * // createContext: ({ user, connectionId }) => ({ user, connectionId })
   * await direct.send(connectionId, { text: 'Only this tab' });
   * onDirect: authed.input(z.object({ ...resumeInput })).subscription(({ ctx, input, signal }) =>
   *   direct.stream(ctx.connectionId, { lastEventId: input.lastEventId, signal }),
   * ),
   * ```
   */
  connectionChannel<TMessage extends z.ZodType>(
    name: string,
    options: ConnectionChannelOptions<TMessage>,
  ): ConnectionChannel<z.input<TMessage>, z.output<TMessage>>;
  /** Closes the broker. Channels reject afterwards. */
  close(): Promise<void>;
}

/** What the admin page reads from a Herald: its fan-out and its counts. Not public API. */
export interface HeraldInternals {
  readonly fanout: FanoutRegistry;
  /** Messages published, and streams opened with a position to resume after (a client back from a reconnect). */
  readonly counts: { published: number; resumed: number };
  /** Each declared channel's history retention, by channel name (the admin page reads a topic's last messages with it). */
  readonly retentions: ReadonlyMap<string, Retention>;
}

const internals = new WeakMap<Herald, HeraldInternals>();

/** The internals of a Herald made by `createHerald` (undefined for any other object). */
export function heraldInternals(herald: Herald): HeraldInternals | undefined {
  return internals.get(herald);
}

const CHANNEL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Creates the channels hub of one process: declare channels on it
 * (`herald.channel`), publish from procedures, timers or scripts, and pass it
 * to `createHeraldServer({ herald })` so health, revocations, idempotency and
 * shutdown use its broker. Several servers may share one Herald. Without a
 * `broker` it keeps everything in this process; pass `redisBroker(...)` to
 * run several processes as one. Options are checked at once.
 *
 * @example
 * ```ts
 * const herald = createHerald({ broker: redisBroker({ url: process.env.REDIS_URL }) });
 * const rooms = herald.channel('rooms', { key: z.string(), message: z.object({ text: z.string() }) });
 * await rooms.publish('lobby', { text: 'hello' });
 * ```
 */
export function createHerald<TCtx = unknown>(options: HeraldOptions<TCtx> = {}): Herald {
  checkHeraldOptions(options);
  // Publishes are traced once @opentelemetry/api (an optional peer) is imported; the server awaits the same import.
  loadTracing().catch(options.onError ?? ((error: unknown) => console.error('[herald]', error)));
  const broker = options.broker ?? memoryBroker();
  const onError = options.onError ?? ((error: unknown) => console.error('[herald]', error));
  const fanout = new FanoutRegistry(broker, onError);
  const names = new Set<string>();
  const liveNames = new Set<string>();
  const counts = { published: 0, resumed: 0 };
  const decoded = new DecodedEntries();
  let closing: Promise<void> | null = null;

  const retentions = new Map<string, Retention>();
  /**
   * Declares and makes a private channel (`userChannel`, `connectionChannel`)
   * under its internal name, recording the retention its streams keep (which
   * the admin page's channel detail reads with).
   */
  const declarePrivate = <TMessage extends z.ZodType>(
    kind: 'User' | 'Connection',
    prefix: string,
    name: string,
    declared: { message: TMessage; history?: Partial<Retention> | undefined },
    defaults: Retention,
  ): UserChannel<z.input<TMessage>, z.output<TMessage>> => {
    if (!CHANNEL_NAME.test(name)) throw new TypeError(`${kind} channel name "${name}" must match ${CHANNEL_NAME}`);
    const internal = `${prefix}${name}`;
    if (names.has(internal)) throw new TypeError(`${kind} channel "${name}" is declared twice`);
    checkChannelOptions(`${name} (a ${kind.toLowerCase()} channel)`, { key: PrivateKey, ...declared });
    names.add(internal);
    const history = { ...defaults, ...declared.history };
    retentions.set(internal, history);
    return createPrivateChannel(name, internal, { message: declared.message, history }, { broker, fanout, onError, counts, decoded });
  };
  const herald: Herald = {
    nodeId: options.nodeId ?? randomUUID(),
    broker,
    channel(name, channelOptions) {
      // Topics are `<name>:<key>`, so a name may not contain the separator.
      if (!CHANNEL_NAME.test(name)) {
        throw new TypeError(`Channel name "${name}" must match ${CHANNEL_NAME}`);
      }
      if (names.has(name)) throw new TypeError(`Channel "${name}" is declared twice`);
      checkChannelOptions(name, channelOptions);
      names.add(name);
      const channel = createChannel(name, channelOptions, {
        broker,
        fanout,
        onError,
        authorize: options.authorize as Authorize<unknown> | undefined,
        counts,
        decoded,
      });
      retentions.set(name, { ...channelDefaults.history, ...channelOptions.history });
      return channel;
    },
    live(query, liveOptions) {
      if (typeof query !== 'function' || typeof liveOptions.dependsOn !== 'function') {
        throw new TypeError('herald.live(query, { name, dependsOn }): pass a built query procedure and a dependsOn function');
      }
      if (typeof liveOptions.name !== 'string' || liveOptions.name.length === 0) {
        throw new TypeError("herald.live: name must be the query's path in the router, such as 'chat.rooms'");
      }
      if (liveOptions.shareBy !== undefined && typeof liveOptions.shareBy !== 'function') {
        throw new TypeError('herald.live: shareBy must be a function (ctx) => string, or left out for a query that reads no context');
      }
      if (liveNames.has(liveOptions.name)) throw new TypeError(`Live query "${liveOptions.name}" is declared twice`);
      liveNames.add(liveOptions.name);
      return createLiveQuery(query, liveOptions, { broker, fanout, onError });
    },
    userChannel(name, userOptions) {
      return declarePrivate('User', USER_CHANNEL_PREFIX, name, userOptions, channelDefaults.history);
    },
    connectionChannel(name, connectionOptions) {
      return declarePrivate('Connection', CONNECTION_CHANNEL_PREFIX, name, connectionOptions, connectionChannelDefaults.history);
    },
    close() {
      closing ??= broker.close();
      return closing;
    },
  };
  internals.set(herald, { fanout, counts, retentions });
  return herald;
}

/** Fails at startup, saying what to pass, when an option of `createHerald` is not what it must be. */
function checkHeraldOptions(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createHerald: options must be an object such as { broker: memoryBroker() }, or nothing');
  }
  const { broker, authorize, onError } = options as Record<string, unknown>;
  if (broker !== undefined && (typeof broker !== 'object' || broker === null || typeof (broker as Partial<Broker>).publish !== 'function')) {
    const hint = typeof broker === 'function' ? ': it is a function; call it (memoryBroker(), redisBroker({ url }))' : '';
    throw new TypeError(`createHerald: broker must be a broker such as memoryBroker() or redisBroker({ url })${hint}`);
  }
  if (authorize !== undefined && typeof authorize !== 'function') {
    throw new TypeError('createHerald: authorize must be a function ({ ctx, channel, key, action }) => boolean');
  }
  if (onError !== undefined && typeof onError !== 'function') {
    throw new TypeError('createHerald: onError must be a function (error) => void');
  }
}
