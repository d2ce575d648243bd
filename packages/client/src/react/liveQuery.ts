import { hashKey, useQueryClient, type QueryKey } from '@tanstack/react-query';
import { useRef } from 'react';
import { isNewerVersion } from '../liveVersion.js';
import { statusAfterConnectionChange, useSubscriptionState, type SubscriptionSource, type SubscriptionStatus, type TrackedEvent } from './subscription.js';

/** What `useLiveQuery` returns: where the live form stands, and whether the cached result may be behind. */
export interface LiveQueryState<TError> {
  /** `idle`, `connecting`, `live`, `reconnecting` or `error`. */
  readonly status: SubscriptionStatus;
  /**
   * True while the cached result may be behind the server's: before the
   * first result, and from a dropped connection until the server accepted
   * the resubscription (it then sends the current result if it is newer
   * than `version`, and nothing if it is not).
   */
  readonly stale: boolean;
  /** The version of the result in the cache (the live form's tracked id), or null before the first. */
  readonly version: string | null;
  /** The error that ended it (with `status: 'error'`, e.g. the query's `FORBIDDEN`), else null. */
  readonly error: TError | null;
  /** Subscribes again from scratch (after `error`); the server sends the current result. */
  retry(): void;
}

type LiveData<TError> = Omit<LiveQueryState<TError>, 'retry'>;

function initialLive<TError>(enabled: boolean): LiveData<TError> {
  return { status: enabled ? 'connecting' : 'idle', stale: enabled, version: null, error: null };
}


/**
 * Keeps TanStack Query's cache entry of a live query current from its live
 * form (`herald.live` on the server): each newer result is written with
 * `setQueryData`, so every component that reads the query with `useQuery`
 * updates with no change of its own. An older or equal version is never
 * written over a newer one. After a dropped connection the link resubscribes
 * with the last version as `lastEventId`, and the server sends the current
 * result only if it is newer.
 *
 * ```tsx
 * const trpc = useTRPC();
 * const live = useLiveQuery(trpc.chat.rooms.queryOptions(), trpc.chat.onRooms.subscriptionOptions());
 * const rooms = useQuery(trpc.chat.rooms.queryOptions()); // anywhere: kept current
 * live.stale; // true while reconnecting
 * ```
 */
export function useLiveQuery<TData, TError>(
  query: { readonly queryKey: QueryKey },
  source: SubscriptionSource<TrackedEvent<TData>, TError>,
): LiveQueryState<TError> {
  const queryClient = useQueryClient();
  // The last version written per cache entry this hook wrote to: a new
  // subscription (new key, retry) never writes an older result over it.
  const written = useRef<{ readonly key: string; readonly version: string } | null>(null);
  const queryKey = query.queryKey;

  const { state, retry } = useSubscriptionState<TrackedEvent<TData>, TError, LiveData<TError>>(source, initialLive, ({ update }) => ({
    onStarted() {
      // Accepted after a drop: the server sends a newer result if there is one.
      update((current) => (current.status === 'reconnecting' ? { ...current, status: 'live', stale: false } : current));
    },
    onData(event) {
      const key = hashKey(queryKey);
      const last = written.current?.key === key ? written.current.version : null;
      if (isNewerVersion(event.id, last)) {
        written.current = { key, version: event.id };
        queryClient.setQueryData<TData>(queryKey, event.data);
      }
      update((current) => ({ ...current, status: 'live', stale: false, error: null, version: written.current?.version ?? current.version }));
    },
    onError(error) {
      update((current) => ({ ...current, status: 'error', error }));
    },
    onConnectionStateChange(change) {
      update((current) => {
        const next = { ...current, ...statusAfterConnectionChange(current, change) };
        return change.state === 'connecting' ? { ...next, stale: true } : next;
      });
    },
  }));
  return { ...state, retry };
}
