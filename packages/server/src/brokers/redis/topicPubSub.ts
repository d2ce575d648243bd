export interface ChannelHandler {
  onMessage(message: string): void;
  /** The subscriber connection dropped and came back: messages in between were not seen. */
  onInterrupted(): void;
}

/** Live delivery of pub/sub channels to local handlers: `PubSub` on one Redis, `ShardedPubSub` on a cluster. */
export interface TopicPubSub {
  /** Resolves once `channel`'s messages reach `handler`; the function it resolves with ends that. */
  subscribe(channel: string, handler: ChannelHandler): Promise<() => Promise<void>>;
  /** Channels with at least one handler. */
  readonly channelCount: number;
}

/** What both kinds of pub/sub keep per channel. */
export interface LocalChannel {
  readonly handlers: Set<ChannelHandler>;
  /** Serialises the channel's subscribe and unsubscribe commands so they cannot cross. */
  pending: Promise<void>;
}

/**
 * The local side of `PubSub` and `ShardedPubSub`: the channels this node has
 * handlers for, one Redis subscription each however many handlers it has,
 * and the delivery to those handlers (a handler that throws is reported, the
 * others still run). How a channel is subscribed in Redis is the caller's.
 */
export class LocalChannels<TChannel extends LocalChannel> {
  private readonly channels = new Map<string, TChannel>();

  constructor(
    private readonly create: (channel: string) => TChannel,
    private readonly onError: (error: unknown) => void,
  ) {}

  get(channel: string): TChannel | undefined {
    return this.channels.get(channel);
  }

  get size(): number {
    return this.channels.size;
  }

  entries(): IterableIterator<[string, TChannel]> {
    return this.channels.entries();
  }

  values(): IterableIterator<TChannel> {
    return this.channels.values();
  }

  /** Forgets `channel` if `state` is still its entry. */
  forget(channel: string, state: TChannel): void {
    if (this.channels.get(channel) === state) this.channels.delete(channel);
  }

  /**
   * Adds `handler` to `channel` and queues `attach` (which subscribes in Redis
   * if that is still needed) behind the channel's earlier commands. Resolves
   * with the function that removes the handler again, once `attach` is done;
   * if it failed, the handler is removed and the error thrown.
   */
  async add(
    channel: string,
    handler: ChannelHandler,
    attach: (state: TChannel) => Promise<void> | undefined,
    detach: (state: TChannel) => Promise<void>,
  ): Promise<() => Promise<void>> {
    let state = this.channels.get(channel);
    if (!state) {
      state = this.create(channel);
      this.channels.set(channel, state);
    }
    const current = state;
    current.handlers.add(handler);
    current.pending = current.pending.then(() => attach(current));
    try {
      await current.pending;
    } catch (error) {
      current.handlers.delete(handler);
      current.pending = Promise.resolve();
      if (current.handlers.size === 0) this.forget(channel, current);
      throw error;
    }
    return () => this.remove(current, handler, detach);
  }

  /** Removes `handler`; after the last one, queues `detach` (which unsubscribes in Redis and forgets the channel). */
  private async remove(state: TChannel, handler: ChannelHandler, detach: (state: TChannel) => Promise<void>): Promise<void> {
    if (!state.handlers.delete(handler) || state.handlers.size > 0) return;
    state.pending = state.pending.then(() => (state.handlers.size > 0 ? undefined : detach(state)));
    await state.pending;
  }

  /** Hands `message` to every handler of `state`. */
  deliver(state: TChannel, message: string): void {
    for (const handler of state.handlers) {
      try {
        handler.onMessage(message);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  /** Tells every handler of `state` that messages may have been missed. */
  interrupt(state: TChannel): void {
    for (const handler of state.handlers) {
      try {
        handler.onInterrupted();
      } catch (error) {
        this.onError(error);
      }
    }
  }
}
