import type { Redis } from 'ioredis';
import { LocalChannels, type ChannelHandler, type LocalChannel, type TopicPubSub } from './topicPubSub.js';

interface ChannelState extends LocalChannel {
  subscribed: boolean;
}

/**
 * One Redis subscriber connection shared by every topic of this node: one
 * SUBSCRIBE per Redis channel however many local handlers it has, dropped
 * with the last one. ioredis resubscribes after a reconnect; this reports the
 * reconnect to handlers so they can read what they missed from history.
 */
export class PubSub implements TopicPubSub {
  private readonly channels: LocalChannels<ChannelState>;
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
    this.channels = new LocalChannels<ChannelState>(() => ({ handlers: new Set(), pending: Promise.resolve(), subscribed: false }), onError);
    connection.on('message', (channel: string, message: string) => {
      if (this.interrupted) return;
      const state = this.channels.get(channel);
      if (state) this.channels.deliver(state, message);
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

  subscribe(channel: string, handler: ChannelHandler): Promise<() => Promise<void>> {
    return this.channels.add(
      channel,
      handler,
      (state) => this.attach(channel, state),
      (state) => this.detach(channel, state),
    );
  }

  private async attach(channel: string, state: ChannelState): Promise<void> {
    if (state.subscribed || state.handlers.size === 0) return;
    await this.connection.subscribe(channel);
    state.subscribed = true;
  }

  private async detach(channel: string, state: ChannelState): Promise<void> {
    if (!state.subscribed) return;
    state.subscribed = false;
    this.channels.forget(channel, state);
    // While disconnected ioredis would queue this forever; the subscription
    // is forgotten locally either way and ioredis will not restore it.
    await this.connection.unsubscribe(channel).catch(this.onError);
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
        for (const state of this.channels.values()) this.channels.interrupt(state);
      });
  }

  get channelCount(): number {
    return this.channels.size;
  }
}
