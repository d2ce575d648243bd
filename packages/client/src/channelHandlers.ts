import type { ChannelEvent, GapReason } from '@herald/shared';

/**
 * What an app must do with a channel subscription's events. Both handlers
 * are required, so the compiler makes the app decide what a failed resume
 * means for it (typically: load a fresh snapshot).
 */
export interface ChannelHandlers<TMessage> {
  /** Each message, in publish order, once; `position` resumes right after it. */
  message(message: TMessage, position: string): void;
  /**
   * The subscription could not resume from where it was: history no longer
   * holds that position, so messages may be missing. Reload a snapshot (for
   * example `chat.snapshot`) and keep consuming; live messages follow.
   */
  resync(reason: GapReason, position: string): void;
  /** Replay is over and live delivery follows. */
  live?(replayed: number, position: string): void;
}

/** A channel subscription's tracked event, as tRPC clients deliver it to `onData`. */
export interface TrackedChannelEvent<TMessage> {
  /** Its position: the `lastEventId` a resumed subscription continues after. */
  readonly id: string;
  /** The event: a message, a gap notice, or the `live` marker. */
  readonly data: ChannelEvent<TMessage>;
}

/**
 * Turns handlers into an `onData` callback:
 * `trpc.chat.onMessage.subscribe({ room, lastEventId: snapshot.position }, { onData: onChannelEvent({ message, resync }) })`.
 */
export function onChannelEvent<TMessage>(handlers: ChannelHandlers<TMessage>): (event: TrackedChannelEvent<TMessage>) => void {
  return ({ id, data }) => {
    switch (data.type) {
      case 'message':
        handlers.message(data.message, id);
        break;
      case 'gap':
        handlers.resync(data.reason, id);
        break;
      case 'live':
        handlers.live?.(data.replayed, id);
        break;
    }
  };
}
