import { hashKey } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';

/**
 * The connection state tRPC reports to each subscription: `connecting` while
 * its socket is (re)connecting (with the error that dropped it), `pending`
 * once it is open.
 */
export interface SubscriptionConnectionState<TError> {
  /** `idle` before it started, `connecting` while its connection is down, `pending` while it is open. */
  readonly state: 'idle' | 'connecting' | 'pending';
  /** What dropped the connection, while `connecting` after a drop. */
  readonly error?: TError | null;
}

/** What a subscription source calls back with. */
export interface SubscriptionCallbacks<TOutput, TError> {
  /** The server accepted the subscription. */
  onStarted?(): void;
  /** One event of the subscription. */
  onData?(data: TOutput): void;
  /** The subscription failed for good (refused, or an error the server sent). */
  onError?(error: TError): void;
  /** Its connection went down or came back. */
  onConnectionStateChange?(state: SubscriptionConnectionState<TError>): void;
}

/**
 * A subscription the hooks can start and stop: exactly what
 * `useTRPC().chat.onMessage.subscriptionOptions(input)` returns
 * (`@trpc/tanstack-react-query`), so input, output and error types all come
 * from the router. Pass `skipToken` as the input to disable it.
 */
export interface SubscriptionSource<TOutput, TError> {
  /** False when the input is `skipToken`: the hook stays `idle`. */
  readonly enabled: boolean;
  /** Identifies the subscription (procedure path and input); a new key resubscribes. */
  readonly queryKey: readonly unknown[];
  /** Starts the subscription; `unsubscribe` stops it. */
  subscribe(callbacks: SubscriptionCallbacks<TOutput, TError>): { unsubscribe(): void };
}

/** A tracked event as tRPC delivers it: the position (`lastEventId`) and the payload. */
export interface TrackedEvent<TData> {
  /** The position: what a resumed subscription continues after. */
  readonly id: string;
  /** The payload. */
  readonly data: TData;
}

/**
 * Where a subscription stands.
 * - `idle`: disabled (input is `skipToken`).
 * - `connecting`: subscribed, not live yet.
 * - `live`: caught up; events arrive as they are published.
 * - `reconnecting`: the link dropped after it was live; it resumes from the last position by itself.
 * - `error`: the server ended it with an error; call `retry()` to subscribe again.
 */
export type SubscriptionStatus = 'idle' | 'connecting' | 'live' | 'reconnecting' | 'error';

export interface StatusState<TError> {
  readonly status: SubscriptionStatus;
  readonly error: TError | null;
}

/** Applies one of tRPC's per-subscription connection states to a status. */
export function statusAfterConnectionChange<TError>(
  current: StatusState<TError>,
  change: SubscriptionConnectionState<TError>,
): StatusState<TError> {
  if (change.state !== 'connecting') return current;
  if (current.status === 'live' || current.status === 'reconnecting') {
    return current.status === 'reconnecting' ? current : { ...current, status: 'reconnecting' };
  }
  return current.status === 'connecting' ? current : { ...current, status: 'connecting' };
}

/**
 * Runs `source` while it is enabled, resubscribing when its key changes (or
 * `retry` is called), and keeps a piece of state derived from its callbacks.
 * The state resets to `initial(key)` whenever the subscription is replaced.
 * @internal
 */
export function useSubscriptionState<TOutput, TError, TState>(
  source: SubscriptionSource<TOutput, TError>,
  initial: (enabled: boolean) => TState,
  handle: (callbacks: { update: (reducer: (state: TState) => TState) => void }) => SubscriptionCallbacks<TOutput, TError>,
): { state: TState; retry: () => void } {
  const [attempt, setAttempt] = useState(0);
  const key = source.enabled ? `${attempt}:${hashKey(source.queryKey)}` : null;

  const [stored, setStored] = useState<{ key: string | null; state: TState }>(() => ({ key, state: initial(key !== null) }));

  // The latest source and handlers, read when the subscription is (re)started
  // and on every event, so callers may pass fresh closures on every render.
  const latest = useRef({ source, handle, initial });
  useEffect(() => {
    latest.current = { source, handle, initial };
  });

  useEffect(() => {
    if (key === null) return;
    let active = true;
    const update = (reducer: (state: TState) => TState) => {
      if (!active) return;
      setStored((previous) => ({
        key,
        state: reducer(previous.key === key ? previous.state : latest.current.initial(true)),
      }));
    };
    const callbacks = (): SubscriptionCallbacks<TOutput, TError> => latest.current.handle({ update });
    const subscription = latest.current.source.subscribe({
      onStarted: () => callbacks().onStarted?.(),
      onData: (data) => callbacks().onData?.(data),
      onError: (error) => callbacks().onError?.(error),
      onConnectionStateChange: (state) => callbacks().onConnectionStateChange?.(state),
    });
    return () => {
      active = false;
      subscription.unsubscribe();
    };
  }, [key]);

  const [retry] = useState(() => () => setAttempt((n) => n + 1));
  return { state: stored.key === key ? stored.state : initial(key !== null), retry };
}
