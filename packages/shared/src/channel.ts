/**
 * What a channel subscription emits. Every event is sent with tRPC's
 * `tracked(position, event)`, so a client that reconnects resumes from the
 * last position it saw, whichever event carried it.
 *
 * - `message`: one published message, in publish order, each once.
 * - `live`: replay (if any) is done and live delivery follows. Sent on every
 *   (re)subscribe, so even a subscriber that has seen no message yet has a
 *   position to resume from.
 * - `gap`: history no longer covers the position the subscriber asked to
 *   resume from; messages may have been missed. Refetch a snapshot (for
 *   example the room's history), then keep consuming: live delivery follows.
 */
export type ChannelEvent<TMessage> =
  | { readonly type: 'message'; readonly message: TMessage }
  | { readonly type: 'live'; readonly replayed: number }
  | { readonly type: 'gap'; readonly reason: GapReason };

/**
 * Why a resume could not be served from history.
 * - `trimmed`: history's size bound dropped messages after the position.
 * - `expired`: history's age bound dropped messages after the position.
 * - `reset`: the position is from before the broker's history began (for
 *   example the in-memory broker restarted with the server).
 * - `unknown-position`: the position is not one this broker issued.
 */
export type GapReason = 'trimmed' | 'expired' | 'reset' | 'unknown-position';

/** A presence entry: one subscribed connection and what it chose to show. */
export interface PresenceMember<TInfo> {
  /** A random id per subscription that joined (one user with two tabs is two members). */
  readonly clientId: string;
  /** What it shows others, as the channel's `presence` schema parsed it. */
  readonly info: TInfo;
  /** When it joined, in ms since the epoch. */
  readonly joinedAt: number;
}

/**
 * What `presenceEvents` yields: a `snapshot` of the members first (again
 * after an interruption), then each `join` and `leave`.
 */
export type PresenceEvent<TInfo> =
  | { readonly type: 'snapshot'; readonly members: readonly PresenceMember<TInfo>[] }
  | { readonly type: 'join'; readonly member: PresenceMember<TInfo> }
  | { readonly type: 'leave'; readonly clientId: string };
