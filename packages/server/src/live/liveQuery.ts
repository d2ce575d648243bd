import { tracked, type AnyQueryProcedure, type inferProcedureInput, type inferProcedureOutput, type TrackedEnvelope } from '@trpc/server';
import type { ChannelKeyRef } from '../channels/channel.js';
import { ChannelStream } from '../channels/channelStream.js';
import type { NativeStream, NativeStreamHandle } from '../channels/nativeStream.js';
import type { SharedEvent } from '../channels/sharedEvent.js';
import type { EventSink } from '../channels/subscriber.js';
import { LiveEntry, type LiveMember, type LiveResult, type LiveRuntime } from './liveEntry.js';
import { parseVersion } from './version.js';

export { LIVE_RETRY_DELAY_MS, type LiveRuntime } from './liveEntry.js';

/** What `herald.live(query, options)` takes besides the query. */
export interface LiveQueryOptions<TInput, TCtx> {
  /**
   * The query's path in the router (`chat.rooms`): the `path` its middleware
   * sees on every recompute, and the name in errors. Unique per Herald.
   */
  readonly name: string;
  /**
   * The channel keys whose publishes make the result for `input` stale
   * (`(input) => [rooms.key(input.room)]`). Called once per distinct input
   * (and share key) while it has subscribers on this node.
   */
  readonly dependsOn: (input: TInput) => readonly ChannelKeyRef[];
  /**
   * What of the subscriber's context the query reads (its middleware and its
   * resolver): subscribers with the same input and the same `shareBy(ctx)`
   * share one recompute, run with the context of one of them. Return the
   * user id when access or the result depends on the user; return a role
   * when it depends on the role.
   * @default none: the query reads no context, and every subscriber of an input shares one recompute
   */
  readonly shareBy?: (ctx: TCtx) => string;
}

/** Options of `live.stream`: who subscribes, the version the client has, and when to stop. */
export interface LiveStreamOptions<TCtx> {
  /** The subscription's context: the query's middleware runs with it on every recompute, and `shareBy` reads it. */
  readonly ctx: TCtx;
  /** The version the client has (tRPC passes it as `input.lastEventId`): nothing is sent until a newer one exists. */
  readonly lastEventId?: string | null | undefined;
  /** Ends the stream; pass the procedure's `signal`. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A query made live (`herald.live(query, options)`): serve `query` as the
 * ordinary query and `stream(...)` from a subscription procedure, which
 * yields the result now and again after every change, each `tracked` with
 * its version.
 */
export interface LiveQuery<TInput, TOutput, TCtx> {
  /** The name it was declared with. */
  readonly name: string;
  /**
   * The current result for `input`, then each newer one, as `tracked(version,
   * result)`. A subscriber that falls behind gets the newest result, never
   * every intermediate one. Ends with the query's refusal (its middleware's
   * `FORBIDDEN`, `UNAUTHORIZED`...) when a recompute refuses the context.
   *
   * A Herald WebSocket connection does not step the generator: it writes
   * each result to the socket as a frame serialized once per node for every
   * subscriber of the input (as channel messages are), and checks the
   * subscription again when the connection's credentials are refreshed.
   */
  stream(input: TInput, options: LiveStreamOptions<TCtx>): AsyncGenerator<TrackedEnvelope<TOutput>, void, unknown>;
}

/**
 * Makes `query` live. Called by `herald.live`; see `LiveQueryOptions`.
 */
export function createLiveQuery<TQuery extends AnyQueryProcedure, TCtx>(
  query: TQuery,
  options: LiveQueryOptions<inferProcedureInput<TQuery>, TCtx>,
  runtime: LiveRuntime,
): LiveQuery<inferProcedureInput<TQuery>, inferProcedureOutput<TQuery>, TCtx> {
  type Input = inferProcedureInput<TQuery>;
  type Output = inferProcedureOutput<TQuery>;
  const entries = new Map<string, LiveEntry>();
  const { name, shareBy } = options;

  // The procedure itself, called as tRPC's router calls it: input parsing,
  // middleware (with the subscriber's context) and resolver, every time.
  const call = (input: unknown, ctx: unknown): Promise<unknown> =>
    query({ ctx, getRawInput: () => Promise.resolve(input), path: name, type: 'query', signal: undefined, batchIndex: 0 });

  const keyOf = (input: Input, ctx: TCtx): string => `${stableKey(input)}\u0000${shareBy ? shareBy(ctx) : ''}`;

  function entryFor(input: Input, key: string): LiveEntry {
    let entry = entries.get(key);
    if (!entry) {
      const dependencies = uniqueTopics(options.dependsOn(input));
      const created: LiveEntry = new LiveEntry(dependencies, (representative) => call(input, representative), runtime, () => {
        if (entries.get(key) === created) entries.delete(key);
      });
      entry = created;
      entries.set(key, entry);
    }
    return entry;
  }

  function stream(input: Input, streamOptions: LiveStreamOptions<TCtx>): AsyncGenerator<TrackedEnvelope<Output>, void, unknown> {
    const from = parseVersion(streamOptions.lastEventId);

    // For consumers that iterate (tRPC's own adapter, the HTTP door's SSE streams).
    async function* iterate(): AsyncGenerator<TrackedEnvelope<Output>, void, unknown> {
      const signal = streamOptions.signal ?? new AbortController().signal;
      const entry = entryFor(input, keyOf(input, streamOptions.ctx));
      const member = new WakingMember(streamOptions.ctx);
      entry.join(member);
      let sent = from;
      try {
        while (!signal.aborted) {
          if (entry.failure) throw entry.failure.error;
          const current = entry.current;
          if (current && (sent === null || current.version > sent)) {
            sent = current.version;
            yield tracked(current.shared.position, current.shared.event as Output);
            continue;
          }
          await member.wait(signal);
        }
      } finally {
        entry.leave(member);
      }
    }

    const native: NativeStream = {
      livePatches: true,
      open(sink) {
        const subscription = new NativeLiveSubscription(
          sink,
          streamOptions.ctx,
          from,
          (ctx) => entryFor(input, keyOf(input, ctx as TCtx)),
          (ctx) => call(input, ctx),
        );
        return Promise.resolve(subscription);
      },
    };
    // The generator is made on first use: a connection that writes results
    // straight to its socket (NATIVE_STREAM) never steps it.
    return new ChannelStream(iterate, native);
  }

  return { name, stream };
}

/** A subscriber whose generator waits to be woken (the iterating path). */
class WakingMember implements LiveMember {
  private waiter: (() => void) | null = null;
  /** Woken while not waiting: the next `wait` returns at once. */
  private woken = false;

  constructor(public ctx: unknown) {}

  update(): void {
    this.wake();
  }

  end(): void {
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    if (waiter) waiter();
    else this.woken = true;
  }

  wait(signal: AbortSignal): Promise<void> {
    if (this.woken || signal.aborted) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.waiter = null;
        resolve();
      };
      this.waiter = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * A subscriber on a Herald WebSocket (the native path): each newer result
 * goes to its sink as the entry's shared event, so the connection serializes
 * and frames it once for every subscriber of the input on the node. It is
 * the stream's handle too: `authorize` runs the query with a refreshed
 * context at once, as a channel subscription is checked again.
 */
class NativeLiveSubscription implements LiveMember, NativeStreamHandle {
  private entry: LiveEntry;
  private closed = false;
  /** The result delivered last: the base of a patch to the next. */
  private last: SharedEvent | null = null;

  constructor(
    private readonly sink: EventSink,
    public ctx: unknown,
    /** The version the client has: nothing older or equal is sent. */
    private sent: bigint | null,
    private readonly entryOf: (ctx: unknown) => LiveEntry,
    private readonly check: (ctx: unknown) => Promise<unknown>,
  ) {
    this.entry = entryOf(ctx);
    this.entry.join(this);
    if (this.entry.current) this.update(this.entry.current);
  }

  update(current: LiveResult): void {
    if (this.closed || (this.sent !== null && current.version <= this.sent)) return;
    this.sent = current.version;
    this.sink.deliver(current.shared, this.last);
    this.last = current.shared;
  }

  end(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.end?.(error);
  }

  /**
   * Runs the query with the refreshed context (its middleware decides);
   * rejects with its refusal. Allowed, the subscription goes on with that
   * context, moving to the entry of its share key if the refresh changed it.
   */
  async authorize(ctx: unknown): Promise<void> {
    await this.check(ctx);
    if (this.closed) return;
    this.ctx = ctx;
    const next = this.entryOf(ctx);
    if (next === this.entry) return;
    this.entry.leave(this);
    this.entry = next;
    next.join(this);
    if (next.current) this.update(next.current);
  }

  close(): Promise<void> {
    this.closed = true;
    this.entry.leave(this);
    return Promise.resolve();
  }
}

function uniqueTopics(dependencies: readonly ChannelKeyRef[]): ChannelKeyRef[] {
  const seen = new Map<string, ChannelKeyRef>();
  for (const dependency of dependencies) if (!seen.has(dependency.topic)) seen.set(dependency.topic, dependency);
  return [...seen.values()];
}

/** A key for an input that does not depend on the order its object keys were written in. */
function stableKey(value: unknown): string {
  if (value === undefined) return 'u';
  if (value instanceof Date) return `d${value.toISOString()}`;
  if (Array.isArray(value)) return `[${value.map(stableKey).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .filter((key) => record[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${stableKey(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? String(value);
}
