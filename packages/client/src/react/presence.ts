import type { PresenceEvent, PresenceMember } from '@herald/shared';
import { statusAfterConnectionChange, useSubscriptionState, type SubscriptionSource, type SubscriptionStatus } from './subscription.js';

/** Who is present, keyed by `clientId` (one entry per subscribed connection). */
export type PresenceMap<TInfo> = ReadonlyMap<string, PresenceMember<TInfo>>;

/** The presence info type of a presence subscription's output (e.g. the chat `User`). */
export type PresenceInfoOf<TOutput extends PresenceEvent<unknown>> =
  Extract<TOutput, { readonly type: 'join' }> extends { readonly member: PresenceMember<infer TInfo> } ? TInfo : never;

/**
 * Applies one presence event. A snapshot replaces everything (it is sent on
 * every (re)subscribe); joins and leaves are idempotent, since a change that
 * races the snapshot may arrive twice. Returns the same map when nothing changed.
 */
export function presenceReducer<TInfo>(members: PresenceMap<TInfo>, event: PresenceEvent<TInfo>): PresenceMap<TInfo> {
  switch (event.type) {
    case 'snapshot':
      return new Map(event.members.map((member) => [member.clientId, member]));
    case 'join': {
      if (members.get(event.member.clientId) === event.member) return members;
      const next = new Map(members);
      next.set(event.member.clientId, event.member);
      return next;
    }
    case 'leave': {
      if (!members.has(event.clientId)) return members;
      const next = new Map(members);
      next.delete(event.clientId);
      return next;
    }
  }
}

/** Members in the order they joined (ties by `clientId`, so the order is stable). */
export function sortMembers<TInfo>(members: PresenceMap<TInfo>): PresenceMember<TInfo>[] {
  return [...members.values()].sort((a, b) => a.joinedAt - b.joinedAt || (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
}

/** What `usePresence` returns: the members and where the subscription stands. */
export interface PresenceState<TInfo, TError> {
  /** Current members, oldest first. Kept (possibly stale) while `reconnecting`; replaced by the next snapshot. */
  readonly members: readonly PresenceMember<TInfo>[];
  /** `live` once the first snapshot arrived. */
  readonly status: SubscriptionStatus;
  /** The error that ended it (with `status: 'error'`), else null. */
  readonly error: TError | null;
  /** Subscribes again from scratch (after `error`): a new snapshot replaces the members. */
  retry(): void;
}

interface PresenceData<TInfo, TError> {
  readonly map: PresenceMap<TInfo>;
  readonly members: readonly PresenceMember<TInfo>[];
  readonly status: SubscriptionStatus;
  readonly error: TError | null;
}

/**
 * Keeps the members of a presence stream current (`snapshot`, then `join` /
 * `leave` events, as `channel.presenceEvents` sends them).
 *
 * ```tsx
 * const { members } = usePresence(trpc.chat.onPresence.subscriptionOptions({ room }));
 * ```
 */
export function usePresence<TOutput extends PresenceEvent<unknown>, TError>(
  source: SubscriptionSource<TOutput, TError>,
): PresenceState<PresenceInfoOf<TOutput>, TError> {
  type TInfo = PresenceInfoOf<TOutput>;
  const { state, retry } = useSubscriptionState<TOutput, TError, PresenceData<TInfo, TError>>(
    source,
    (enabled) => ({ map: new Map(), members: [], status: enabled ? 'connecting' : 'idle', error: null }),
    ({ update }) => ({
      onData(event) {
        update((current) => {
          const map = presenceReducer(current.map, event as PresenceEvent<TInfo>);
          const status: SubscriptionStatus = event.type === 'snapshot' ? 'live' : current.status;
          if (map === current.map && status === current.status) return current;
          return { map, members: map === current.map ? current.members : sortMembers(map), status, error: null };
        });
      },
      onError(error) {
        update((current) => ({ ...current, status: 'error', error }));
      },
      onConnectionStateChange(change) {
        update((current) => ({ ...current, ...statusAfterConnectionChange(current, change) }));
      },
    }),
  );
  return { members: state.members, status: state.status, error: state.error, retry };
}
