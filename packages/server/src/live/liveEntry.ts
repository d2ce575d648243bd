import { TRPCError } from '@trpc/server';
import type { Broker } from '../brokers/broker.js';
import type { ChannelKeyRef } from '../channels/channel.js';
import type { FanoutRegistry, Sink } from '../channels/fanout.js';
import { SharedEvent } from '../channels/sharedEvent.js';
import { versionOf } from './version.js';

/** Wait before a recompute that failed for a passing reason (the broker, a thrown non-tRPC error) is tried again. */
export const LIVE_RETRY_DELAY_MS = 1_000;

/** What a live query needs from its Herald. */
export interface LiveRuntime {
  readonly broker: Broker;
  readonly fanout: FanoutRegistry;
  readonly onError: (error: unknown) => void;
}

/**
 * One result as the entry holds it, shared by every subscriber of the entry:
 * a `SharedEvent` of kind `result` (its position the version in decimal, its
 * event the result), on which a WebSocket connection memoizes the
 * serialization and the frames, once per node for all its subscribers.
 */
export interface LiveResult {
  readonly version: bigint;
  readonly shared: SharedEvent;
}

/** One subscriber of an entry, as the entry sees it. */
export interface LiveMember {
  /** The context a recompute runs with when this member is the oldest; a refresh replaces it. */
  ctx: unknown;
  /** A newer result is the entry's `current`. */
  update(current: LiveResult): void;
  /** The entry ended with `error`: a refusal, or a failure before any result. */
  end(error: unknown): void;
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
 *  publish ─▶ invalidate ─▶ [recompute: read heads ─▶ call query] ─▶ update members
 *  publish ─▶ invalidate ─▶ dirty ┐        (running)
 *  publish ─▶ invalidate ─▶ dirty ┴──────────────────▶ [recompute] once more
 * ```
 */
export class LiveEntry implements Sink {
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

  join(member: LiveMember): void {
    this.members.add(member);
    if (!this.started) this.start();
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
    const current: LiveResult = { version, shared: new SharedEvent(version.toString(), result, 'result') };
    this.current = current;
    for (const member of this.members) member.update(current);
  }

  /** A refusal, or any failure before a first result, ends every subscriber; a passing failure is retried. */
  private fail(error: unknown): void {
    if (this.closed) return;
    if (this.current === null || isFinal(error)) {
      this.failure = { error };
      const members = [...this.members];
      this.close();
      for (const member of members) member.end(error);
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

/** Whether `error` is the query's answer to a context (a refusal) rather than a failure that may pass. */
export function isFinal(error: unknown): boolean {
  return error instanceof TRPCError && !PASSING_CODES.has(error.code);
}
