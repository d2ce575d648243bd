import calculateSlot from 'cluster-key-slot';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { BrokerUnavailableError } from '../errors.js';
import { LocalChannels, type ChannelHandler, type LocalChannel, type TopicPubSub } from './topicPubSub.js';

/** Back-off between attempts to bring channels whose shard went away back (doubling from the first, capped). */
const REPAIR_FIRST_MS = 50;
const REPAIR_MAX_MS = 1_000;

/** One master's subscriber connection and the channels subscribed on it. */
interface Shard {
  /** `host:port`, as the cluster's slot map names the master. */
  readonly key: string;
  readonly connection: Redis;
  readonly channels: Set<string>;
  lost: boolean;
}

interface ChannelState extends LocalChannel {
  readonly slot: number;
  /** The shard it is subscribed on; null while it is not subscribed anywhere. */
  shard: Shard | null;
  /**
   * From losing its shard until handlers are told. Messages that arrive on
   * the new shard before that are dropped: a handler still in live mode would
   * take them and move its position past the ones published while no
   * subscription existed. The resync that follows reads them from history.
   */
  interrupted: boolean;
}

/**
 * Redis 7 sharded pub/sub on a Redis Cluster: each channel is subscribed
 * (SSUBSCRIBE) on the master that owns its slot, through one subscriber
 * connection per master this node needs, so a publish (SPUBLISH) reaches only
 * that shard and the nodes subscribed there. One SSUBSCRIBE per channel
 * however many local handlers it has, dropped with the last one.
 *
 * A shard's connection that closes (its master died) or a slot that another
 * master now serves (failover, resharding: seen on every refresh of the
 * cluster's slot map) takes the channels with it; they are subscribed again
 * where the slot map says, retried with back-off until that works, and only
 * then are their handlers told, so they read what they missed from history
 * with live delivery already back.
 */
export class ShardedPubSub implements TopicPubSub {
  private readonly channels: LocalChannels<ChannelState>;
  private readonly shards = new Map<string, Shard>();
  /** Channels with handlers and no shard: what the repair brings back. */
  private readonly orphans = new Set<string>();
  private repairTimer: NodeJS.Timeout | null = null;
  private repairAttempt = 0;
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly connectionOptions: RedisOptions,
    private readonly onError: (error: unknown) => void,
  ) {
    this.channels = new LocalChannels<ChannelState>(
      (channel) => ({ slot: calculateSlot(channel), handlers: new Set(), pending: Promise.resolve(), shard: null, interrupted: false }),
      onError,
    );
    cluster.on('refresh', this.onSlotsRefreshed);
  }

  subscribe(channel: string, handler: ChannelHandler): Promise<() => Promise<void>> {
    return this.channels.add(
      channel,
      handler,
      (state) => (state.shard || state.interrupted ? undefined : this.attach(channel, state)),
      (state) => this.detach(channel, state),
    );
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** Closes every shard connection; handlers hear nothing more. */
  close(): void {
    this.closed = true;
    this.cluster.off('refresh', this.onSlotsRefreshed);
    if (this.repairTimer) clearTimeout(this.repairTimer);
    this.repairTimer = null;
    for (const shard of this.shards.values()) {
      shard.lost = true;
      shard.connection.disconnect();
    }
    this.shards.clear();
  }

  private async detach(channel: string, state: ChannelState): Promise<void> {
    this.channels.forget(channel, state);
    this.orphans.delete(channel);
    const shard = state.shard;
    state.shard = null;
    if (!shard) return;
    shard.channels.delete(channel);
    // The subscription is forgotten locally either way; a lost shard took it with it.
    if (!shard.lost) await shard.connection.sunsubscribe(channel).catch(this.onError);
  }

  /** Subscribes `channel` on the master that owns its slot now. */
  private async attach(channel: string, state: ChannelState): Promise<void> {
    if (this.closed) throw new BrokerUnavailableError('The Redis broker is closed', { closed: true });
    if (state.handlers.size === 0) return;
    const owner = this.cluster.slots[state.slot]?.[0];
    if (!owner) {
      this.cluster.refreshSlotsCache();
      throw new BrokerUnavailableError(`No Redis Cluster master serves slot ${state.slot} now; subscribe again shortly`);
    }
    const shard = this.shardFor(owner);
    try {
      // A MOVED reply (the slot map was stale) leaves ioredis' SSUBSCRIBE unanswered: the command timeout ends it.
      await shard.connection.ssubscribe(channel);
    } catch (error) {
      this.cluster.refreshSlotsCache();
      throw new BrokerUnavailableError(
        `Redis Cluster SSUBSCRIBE on ${owner} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    if (shard.lost) throw new BrokerUnavailableError(`The Redis Cluster master ${owner} went away during SSUBSCRIBE`);
    state.shard = shard;
    shard.channels.add(channel);
  }

  private shardFor(key: string): Shard {
    const existing = this.shards.get(key);
    if (existing) return existing;
    const split = key.lastIndexOf(':');
    const connection = new Redis({
      ...this.connectionOptions,
      host: key.slice(0, split),
      port: Number(key.slice(split + 1)),
      // SSUBSCRIBE waits for the connection; a failed connect fails it.
      enableOfflineQueue: true,
      lazyConnect: false,
      // A shard that goes away is replaced by whichever master serves its slots next, not reconnected.
      retryStrategy: () => null,
      // SSUBSCRIBE may be written before the connection is 'ready' (ioredis allows it during the
      // handshake); no INFO ready check or CLIENT SETINFO may follow it on a connection in subscriber mode.
      enableReadyCheck: false,
      disableClientInfo: true,
    });
    const shard: Shard = { key, connection, channels: new Set(), lost: false };
    connection.on('smessage', (channel: string, message: string) => {
      const state = this.channels.get(channel);
      if (!state || state.shard !== shard || state.interrupted) return;
      this.channels.deliver(state, message);
    });
    // Connection errors surface as 'close'; an unsolicited SUNSUBSCRIBE (Redis moved the slot away)
    // confuses ioredis' reply queue, so the connection is not trusted after any error.
    connection.on('error', () => this.lose(shard));
    connection.on('close', () => this.lose(shard));
    this.shards.set(key, shard);
    return shard;
  }

  /** `shard`'s connection is gone: its channels wait for the repair. */
  private lose(shard: Shard): void {
    if (shard.lost) return;
    shard.lost = true;
    if (this.shards.get(shard.key) === shard) this.shards.delete(shard.key);
    shard.connection.disconnect();
    for (const channel of shard.channels) this.orphan(channel, shard);
    shard.channels.clear();
    this.scheduleRepair();
  }

  private orphan(channel: string, from: Shard): void {
    const state = this.channels.get(channel);
    if (!state || state.shard !== from) return;
    state.shard = null;
    state.interrupted = true;
    this.orphans.add(channel);
  }

  /** After every refresh of the slot map: channels whose slot another master serves now move there. */
  private readonly onSlotsRefreshed = (): void => {
    let moved = false;
    for (const [channel, state] of this.channels.entries()) {
      const shard = state.shard;
      if (!shard || this.cluster.slots[state.slot]?.[0] === shard.key) continue;
      shard.channels.delete(channel);
      this.orphan(channel, shard);
      shard.connection.sunsubscribe(channel).catch(() => undefined);
      moved = true;
    }
    if (moved) this.scheduleRepair();
  };

  private scheduleRepair(): void {
    if (this.closed || this.repairTimer || this.orphans.size === 0) return;
    const delay = Math.min(REPAIR_FIRST_MS * 2 ** this.repairAttempt, REPAIR_MAX_MS);
    this.repairTimer = setTimeout(() => {
      this.repairTimer = null;
      void this.repair();
    }, delay);
    this.repairTimer.unref();
  }

  /** Subscribes every orphaned channel where the (refreshed) slot map says, then tells its handlers. */
  private async repair(): Promise<void> {
    await new Promise<void>((resolve) => this.cluster.refreshSlotsCache(() => resolve()));
    let failed = false;
    await Promise.all(
      [...this.orphans].map(async (channel) => {
        const state = this.channels.get(channel);
        if (!state) {
          this.orphans.delete(channel);
          return;
        }
        state.pending = state.pending.then(() => (state.shard ? undefined : this.attach(channel, state)));
        try {
          await state.pending;
        } catch {
          state.pending = Promise.resolve();
          failed = true;
          return;
        }
        if (!this.orphans.delete(channel) || this.closed) return;
        state.interrupted = false;
        this.channels.interrupt(state);
      }),
    );
    this.repairAttempt = failed ? this.repairAttempt + 1 : 0;
    this.scheduleRepair();
  }
}
