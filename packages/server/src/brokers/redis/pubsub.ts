import type { Redis } from 'ioredis';

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

interface ChannelState {
  readonly handlers: Set<ChannelHandler>;
  /** Serialises SUBSCRIBE/UNSUBSCRIBE of one channel so they cannot cross. */
  pending: Promise<void>;
  subscribed: boolean;
}

/**
 * One Redis subscriber connection shared by every topic of this node: one
 * SUBSCRIBE per Redis channel however many local handlers it has, dropped
 * with the last one. ioredis resubscribes after a reconnect; this reports the
 * reconnect to handlers so they can read what they missed from history.
 */
export class PubSub implements TopicPubSub {
  private readonly channels = new Map<string, ChannelState>();
  private lostConnection = false;
  /**
   * From a lost connection until handlers are told. Messages that arrive on
   * the new connection before that are dropped: a handler still in live mode
   * would take them and move its position past the ones published while no
   * subscription existed, and its resync would then never read those back.
   * The resync that follows reads the dropped ones from history.
   */
  private interrupted = false;

  constructor(
    private readonly connection: Redis,
    private readonly onError: (error: unknown) => void,
  ) {
    connection.on('message', (channel: string, message: string) => {
      if (this.interrupted) return;
      const state = this.channels.get(channel);
      if (!state) return;
      for (const handler of state.handlers) {
        try {
          handler.onMessage(message);
        } catch (error) {
          this.onError(error);
        }
      }
    });
    connection.on('close', () => {
      this.lostConnection = true;
      this.interrupted = true;
    });
    connection.on('ready', () => {
      if (!this.lostConnection) return;
      this.lostConnection = false;
      this.afterResubscribe();
    });
  }

  async subscribe(channel: string, handler: ChannelHandler): Promise<() => Promise<void>> {
    let state = this.channels.get(channel);
    if (!state) {
      state = { handlers: new Set(), pending: Promise.resolve(), subscribed: false };
      this.channels.set(channel, state);
    }
    const current = state;
    current.handlers.add(handler);
    current.pending = current.pending.then(async () => {
      if (current.subscribed || current.handlers.size === 0) return;
      await this.connection.subscribe(channel);
      current.subscribed = true;
    });
    try {
      await current.pending;
    } catch (error) {
      current.handlers.delete(handler);
      current.pending = Promise.resolve();
      if (current.handlers.size === 0 && this.channels.get(channel) === current) this.channels.delete(channel);
      throw error;
    }
    return () => this.unsubscribe(channel, current, handler);
  }

  private async unsubscribe(channel: string, state: ChannelState, handler: ChannelHandler): Promise<void> {
    if (!state.handlers.delete(handler) || state.handlers.size > 0) return;
    state.pending = state.pending.then(async () => {
      if (state.handlers.size > 0 || !state.subscribed) return;
      state.subscribed = false;
      if (this.channels.get(channel) === state) this.channels.delete(channel);
      // While disconnected ioredis would queue this forever; the subscription
      // is forgotten locally either way and ioredis will not restore it.
      await this.connection.unsubscribe(channel).catch(this.onError);
    });
    await state.pending;
  }

  /**
   * ioredis sends the SUBSCRIBEs again before 'ready'; a PING through the
   * same connection returns after their confirmations, so live delivery is
   * back when handlers start reading history.
   */
  private afterResubscribe(): void {
    this.connection
      .ping()
      .catch(() => undefined)
      .finally(() => {
        // A newer drop since this reconnect gets its own notice after its own reconnect.
        if (this.lostConnection) return;
        this.interrupted = false;
        for (const state of this.channels.values()) {
          for (const handler of state.handlers) {
            try {
              handler.onInterrupted();
            } catch (error) {
              this.onError(error);
            }
          }
        }
      });
  }

  get channelCount(): number {
    return this.channels.size;
  }
}
