import type { EventSink } from './subscriber.js';

/**
 * Marks the async generator a channel's `stream()` returns, so a connection
 * handler that knows channels can skip the generator and have events written
 * straight to its socket: no generator step, promise or serialization per
 * subscriber per message. Other consumers just iterate the generator.
 */
export const NATIVE_STREAM = Symbol.for('herald.nativeChannelStream');

export interface NativeStream {
  /**
   * Checks that the subscription may start (authorization) before anything
   * is sent for it; rejects with the refusal.
   */
  prepare?(): Promise<void>;
  /**
   * Its deliveries are a live query's results, which may go as patches from
   * the result before (`EventSink.deliver`'s `previous`) to a client that applies them.
   */
  readonly livePatches?: boolean;
  /** Starts delivery into `sink`; rejects if the subscription cannot start. */
  open(sink: EventSink): Promise<NativeStreamHandle>;
}

export interface NativeStreamHandle {
  /** The channel topic it delivers, when it is a channel's (the admin page's connections per channel). */
  readonly topic?: string;
  close(): Promise<void>;
  /**
   * Checks the subscription again with a new context, when the connection's
   * credentials were refreshed; rejects with the refusal.
   */
  authorize(ctx: unknown): Promise<void>;
}

export function nativeStreamOf(value: unknown): NativeStream | null {
  if (typeof value !== 'object' || value === null) return null;
  const native = (value as { [NATIVE_STREAM]?: NativeStream })[NATIVE_STREAM];
  return native ?? null;
}
