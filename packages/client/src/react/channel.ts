import type { GapReason } from '@herald/shared';
import type { TrackedChannelEvent } from '../channelHandlers.js';
import { statusAfterConnectionChange, useSubscriptionState, type SubscriptionSource, type SubscriptionStatus } from './subscription.js';

/** What a channel subscription's output must be: Herald's tracked `ChannelEvent`s, of any message type. */
type AnyTrackedChannelEvent = TrackedChannelEvent<unknown>;

/** The message type of a channel subscription's output (e.g. the chat `Message`). */
export type ChannelMessageOf<TOutput extends AnyTrackedChannelEvent> =
  Extract<TOutput['data'], { readonly type: 'message' }> extends { readonly message: infer TMessage } ? TMessage : never;

/** A gap notice as `useChannel` reports it: messages may have been missed, and why. */
export interface GapNotice {
  /** Why history could not cover the outage (`trimmed`, `expired`, `reset`, `unknown-position`). */
  readonly reason: GapReason;
  /** The position delivery resumed from. */
  readonly id: string;
  /** When the notice arrived (ms since epoch). */
  readonly receivedAt: number;
}

/** The callbacks `useChannel` takes (all optional; the hook also reports state). */
export interface UseChannelHandlers<TMessage, TError> {
  /** One published message, in order, each once (also the ones replayed after a reconnect). */
  onMessage?: (message: TMessage, id: string) => void;
  /**
   * History could not cover the outage: messages may have been missed.
   * Refetch a snapshot (e.g. `chat.history`); live delivery follows.
   */
  onGap?: (gap: GapNotice) => void;
  /** Replay is done (`replayed` messages) and live delivery follows. Called on every (re)subscribe. */
  onLive?: (replayed: number) => void;
  /** The subscription failed for good (refused, or the server's error); `status` is `error`, `retry()` starts over. */
  onError?: (error: TError) => void;
}

/** What `useChannel` returns: where the subscription stands and what it has seen. */
export interface ChannelState<TError> {
  /** `idle`, `connecting`, `live`, `reconnecting` or `error`. */
  readonly status: SubscriptionStatus;
  /** The error that ended it (with `status: 'error'`), else null. */
  readonly error: TError | null;
  /** The last position seen: what the link resumes from after a reconnect. */
  readonly lastEventId: string | null;
  /** The latest gap notice on this subscription, if any. */
  readonly lastGap: GapNotice | null;
  /** Messages received on this subscription so far. */
  readonly received: number;
  /**
   * Subscribes again from scratch (after `error`). Messages published while
   * it was down are not replayed: refetch your snapshot.
   */
  retry(): void;
}

type ChannelData<TError> = Omit<ChannelState<TError>, 'retry'>;

function initialChannel<TError>(enabled: boolean): ChannelData<TError> {
  return { status: enabled ? 'connecting' : 'idle', error: null, lastEventId: null, lastGap: null, received: 0 };
}

/** The state after one channel event. */
export function channelReducer<TError>(state: ChannelData<TError>, event: AnyTrackedChannelEvent, receivedAt: number): ChannelData<TError> {
  const { id, data } = event;
  switch (data.type) {
    case 'message':
      return { ...state, lastEventId: id, received: state.received + 1 };
    case 'live':
      return { ...state, status: 'live', error: null, lastEventId: id };
    case 'gap':
      return { ...state, lastEventId: id, lastGap: { reason: data.reason, id, receivedAt } };
  }
}

/**
 * Follows a Herald channel subscription: calls `onMessage` for every message,
 * `onGap` when a resume could not be served from history, and reports where
 * the subscription stands. After a dropped connection the link resubscribes
 * with the last position by itself, so nothing is missed or doubled.
 *
 * ```tsx
 * const trpc = useTRPC();
 * const channel = useChannel(trpc.chat.onMessage.subscriptionOptions({ room }), {
 *   onMessage: (message) => add(message),
 *   onGap: () => void refetchHistory(),
 * });
 * channel.status; // 'connecting' | 'live' | 'reconnecting' | ...
 * ```
 */
export function useChannel<TOutput extends AnyTrackedChannelEvent, TError>(
  source: SubscriptionSource<TOutput, TError>,
  handlers: UseChannelHandlers<ChannelMessageOf<TOutput>, TError> = {},
): ChannelState<TError> {
  const { state, retry } = useSubscriptionState<TOutput, TError, ChannelData<TError>>(source, initialChannel, ({ update }) => ({
    onData(event) {
      update((current) => channelReducer(current, event, Date.now()));
      const { id, data } = event;
      if (data.type === 'message') handlers.onMessage?.(data.message as ChannelMessageOf<TOutput>, id);
      else if (data.type === 'live') handlers.onLive?.(data.replayed);
      else handlers.onGap?.({ reason: data.reason, id, receivedAt: Date.now() });
    },
    onError(error) {
      update((current) => ({ ...current, status: 'error', error }));
      handlers.onError?.(error);
    },
    onConnectionStateChange(change) {
      update((current) => ({ ...current, ...statusAfterConnectionChange(current, change) }));
    },
  }));
  return { ...state, retry };
}
