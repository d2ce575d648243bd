import {
  tracked,
  TRPCError,
  type AnyQueryProcedure,
  type inferProcedureInput,
  type inferProcedureOutput,
  type TrackedEnvelope,
} from '@trpc/server';
import type { Broker } from '../brokers/broker.js';
import type { ChannelKeyRef } from '../channels/channel.js';
import type { FanoutRegistry, Sink } from '../channels/fanout.js';
import { parseVersion, versionOf } from './version.js';

/** Wait before a recompute that failed for a passing reason (the broker, a thrown non-tRPC error) is tried again. */
export const LIVE_RETRY_DELAY_MS = 1_000;

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
   */
  stream(input: TInput, options: LiveStreamOptions<TCtx>): AsyncGenerator<TrackedEnvelope<TOutput>, void, unknown>;
}

/** What a live query needs from its Herald. */
export interface LiveRuntime {
  readonly broker: Broker;
  readonly fanout: FanoutRegistry;
  readonly onError: (error: unknown) => void;
}

/** One result as the entry holds it, shared by every subscriber of the entry. */
interface LiveResult {
  readonly version: bigint;
  /** `version` in decimal: the tracked id, computed once. */
  readonly id: string;
  readonly result: unknown;
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

  function entryFor(input: Input, ctx: TCtx): LiveEntry {
    const key = `${stableKey(input)}\u0000${shareBy ? shareBy(ctx) : ''}`;
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

  async function* stream(input: Input, streamOptions: LiveStreamOptions<TCtx>): AsyncGenerator<TrackedEnvelope<Output>, void, unknown> {
    const signal = streamOptions.signal ?? new AbortController().signal;
    const entry = entryFor(input, streamOptions.ctx);
    const member = entry.join(streamOptions.ctx);
    let sent = parseVersion(streamOptions.lastEventId);
    try {
      while (!signal.aborted) {
        const failure = entry.failure;
        if (failure) throw failure.error;
        const current = entry.current;
        if (current && (sent === null || current.version > sent)) {
          sent = current.version;
          yield tracked(current.id, current.result as Output);
          continue;
        }
        await member.wait(signal);
      }
    } finally {
      entry.leave(member);
    }
  }

  return { name, stream };
}

/** One subscriber of an entry: its context, and a wake-up for its generator. */
class LiveMember {
  private waiter: (() => void) | null = null;
  /** Woken while not waiting: the next `wait` returns at once. */
  private woken = false;

  constructor(readonly ctx: unknown) {}

  wake(): void {
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
 * The results of one input (and share key) on this node, with the
 * subscribers that read them. It is a fan-out sink of each dependency topic,
 * so its invalidations share the node's one broker subscription per topic
 * with channel subscribers.
 *
 * Coalescing: one recompute at a time; an invalidation during one sets
 * `dirty`, and however many arrive, one more recompute follows it.
 *
 * ```
 *  publish ─▶ invalidate ─▶ [recompute: read heads ─▶ call query] ─▶ wake subscribers
 *  publish ─▶ invalidate ─▶ dirty ┐        (running)
 *  publish ─▶ invalidate ─▶ dirty ┴──────────────────▶ [recompute] once more
 * ```
 */
class LiveEntry implements Sink {
  private readonly members = new Set<LiveMember>();
  current: LiveResult | null = null;
  /** What ended the entry for every subscriber: a refusal, or a failure before any result. */
  failure: { readonly error: unknown } | null = null;
  private running = false;
  private dirty = false;
  private closed = false;
  private started = false;
  private attached: string[] = [];
  private retryTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly dependencies: readonly ChannelKeyRef[],
    private readonly compute: (ctx: unknown) => Promise<unknown>,
    private readonly runtime: LiveRuntime,
    private readonly onClosed: () => void,
  ) {}

  /**
   * Attaches to every dependency topic, then computes the first result
   * (after the attach, so no publish is missed). Run by the first `join`:
   * a recompute needs a subscriber's context.
   */
  private start(): void {
    this.started = true;
    const attaching: Promise<void>[] = [];
    for (const dependency of this.dependencies) {
      const pending = this.runtime.fanout.attach(dependency.topic, this);
      this.attached.push(dependency.topic);
      if (pending) attaching.push(pending);
    }
    if (attaching.length === 0) {
      this.invalidate();
      return;
    }
    Promise.all(attaching).then(
      () => this.invalidate(),
      (error: unknown) => this.fail(error),
    );
  }

  join(ctx: unknown): LiveMember {
    const member = new LiveMember(ctx);
    this.members.add(member);
    if (!this.started) this.start();
    return member;
  }

  leave(member: LiveMember): void {
    if (this.members.delete(member) && this.members.size === 0) this.close();
  }

  /** The fan-out's callback: a dependency was published on. */
  entry(): void {
    this.invalidate();
  }

  /** The fan-out's callback: publishes may have been missed (the broker reconnected). */
  interrupted(): void {
    this.invalidate();
  }

  private invalidate(): void {
    if (this.closed) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      do {
        this.dirty = false;
        await this.recompute();
      } while (this.dirty && !this.closed);
    } finally {
      this.running = false;
    }
  }

  private async recompute(): Promise<void> {
    // The oldest subscriber's context stands for all: `shareBy` says they are alike.
    const first = this.members.values().next();
    if (first.done) return;
    let version: bigint;
    let result: unknown;
    try {
      const heads = await Promise.all(
        this.dependencies.map(async (dependency) => (await this.runtime.broker.readAfter(dependency.topic, null, dependency.retention)).head),
      );
      version = versionOf(heads);
      result = await this.compute(first.value.ctx);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.closed) return;
    // Heads read after the last result's: an equal version reflects the same publishes.
    if (this.current && version <= this.current.version) return;
    this.current = { version, id: version.toString(), result };
    for (const member of this.members) member.wake();
  }

  /** A refusal, or any failure before a first result, ends every subscriber; a passing failure is retried. */
  private fail(error: unknown): void {
    if (this.closed) return;
    if (this.current === null || isFinal(error)) {
      this.failure = { error };
      for (const member of this.members) member.wake();
      this.close();
      return;
    }
    this.runtime.onError(error);
    if (this.retryTimer === null) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.invalidate();
      }, LIVE_RETRY_DELAY_MS);
    }
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const topic of this.attached) this.runtime.fanout.detach(topic, this);
    this.attached = [];
    this.onClosed();
  }
}

/** tRPC codes of failures that may pass (the broker, a bug): retried; every other tRPC error is the query's answer to this context. */
const PASSING_CODES = new Set(['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE', 'TIMEOUT', 'GATEWAY_TIMEOUT', 'BAD_GATEWAY']);

function isFinal(error: unknown): boolean {
  return error instanceof TRPCError && !PASSING_CODES.has(error.code);
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
