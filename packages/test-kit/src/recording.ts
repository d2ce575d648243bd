/**
 * Subscriptions and connections that record what happens to them, so a test
 * can wait for it (`until`, `nextEvent`) and then assert on all of it.
 */
import type { ConnectionStatus } from '@herald/client';
import type { ChannelEvent } from '@herald/shared';
import { statusSourceOf, type StatusTarget } from './statuses.js';

/** One recorded event, with its tracked id (`null` for an untracked one). */
export interface RecordedEvent<TEvent> {
  readonly id: string | null;
  readonly event: TEvent;
}

/** What a recorded subscription received. */
export interface RecordedSubscription<TEvent> {
  /** Every event in arrival order. */
  readonly events: readonly RecordedEvent<TEvent>[];
  readonly errors: readonly unknown[];
  /** Resolves once `predicate` holds for the events so far; checked now and on every event. Rejects on a subscription error. */
  until(predicate: (events: readonly TEvent[]) => boolean, timeoutMs?: number, label?: string): Promise<void>;
  /** Calls `listener` on every event from now on (an error comes as `{ error }`). Returns the unsubscribe function. */
  onRecord(listener: (record: RecordedEvent<TEvent> | { readonly error: unknown }) => void): () => void;
  unsubscribe(): void;
}

/** A recorded subscription to a Herald channel stream (`ChannelEvent`s). */
export interface ChannelSubscription<TMessage> extends RecordedSubscription<ChannelEvent<TMessage>> {
  readonly events: readonly { readonly id: string; readonly event: ChannelEvent<TMessage> }[];
  /** The messages received, in order. */
  messages(): TMessage[];
  /** The gap notices received, in order. */
  gaps(): Extract<ChannelEvent<TMessage>, { type: 'gap' }>[];
  /** Resolves with the messages once at least `count` have arrived. */
  waitForMessages(count: number, timeoutMs?: number): Promise<TMessage[]>;
  /** Resolves once `count` `live` markers have arrived (the first one: the subscription is live). */
  waitForLive(count?: number, timeoutMs?: number): Promise<void>;
}

/** The callbacks `recordSubscription` hands to `start`, shaped like tRPC's subscribe options. */
export interface SubscriptionHandlers<TData> {
  onData(data: TData): void;
  onError(error: unknown): void;
}

/**
 * Starts a subscription with recording callbacks: `start` calls tRPC's
 * `subscribe(input, handlers)`. Tracked data (`{ id, data }`) is recorded
 * with its id; anything else with id `null`.
 */
export function recordSubscription<TEvent>(
  start: (handlers: SubscriptionHandlers<{ id: string; data: TEvent } | TEvent>) => { unsubscribe(): void },
  options: { tracked: boolean },
): RecordedSubscription<TEvent> {
  const events: RecordedEvent<TEvent>[] = [];
  const errors: unknown[] = [];
  type Listener = Parameters<RecordedSubscription<TEvent>['onRecord']>[0];
  const listeners = new Set<Listener>();
  const notify = (record: Parameters<Listener>[0]) => {
    for (const listener of [...listeners]) listener(record);
  };
  const onRecord = (listener: Listener) => {
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  };

  const subscription = start({
    onData: (data) => {
      const record: RecordedEvent<TEvent> = options.tracked
        ? { id: (data as { id: string }).id, event: (data as { data: TEvent }).data }
        : { id: null, event: data as TEvent };
      events.push(record);
      notify(record);
    },
    onError: (error) => {
      errors.push(error);
      notify({ error });
    },
  });

  const until: RecordedSubscription<TEvent>['until'] = (predicate, timeoutMs = 5_000, label = 'subscription events') =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (errors.length > 0) {
          finish();
          reject(new Error(`subscription failed while waiting for ${label}`, { cause: errors[0] }));
        } else if (predicate(events.map((entry) => entry.event))) {
          finish();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        finish();
        const seen = events.map(({ event }) => (event as { type?: unknown }).type).join(', ');
        reject(new Error(`${label}: not seen within ${timeoutMs} ms (seen: ${seen || 'nothing'})`));
      }, timeoutMs);
      const stop = onRecord(check);
      const finish = () => {
        clearTimeout(timer);
        stop();
      };
      check();
    });

  return { events, errors, until, onRecord, unsubscribe: () => subscription.unsubscribe() };
}

/** Records a channel stream subscription; `start` calls the procedure's `subscribe(input, handlers)`. */
export function recordChannel<TMessage>(
  start: (handlers: SubscriptionHandlers<{ id: string; data: ChannelEvent<TMessage> }>) => { unsubscribe(): void },
): ChannelSubscription<TMessage> {
  const recorded = recordSubscription<ChannelEvent<TMessage>>(
    (handlers) => start(handlers as SubscriptionHandlers<{ id: string; data: ChannelEvent<TMessage> }>),
    { tracked: true },
  );
  const events = recorded.events as ChannelSubscription<TMessage>['events'];
  const { until } = recorded;
  const messages = () => events.flatMap(({ event }) => (event.type === 'message' ? [event.message] : []));
  return {
    ...recorded,
    events,
    messages,
    gaps: () => events.flatMap(({ event }) => (event.type === 'gap' ? [event] : [])),
    async waitForMessages(count, timeoutMs) {
      await until((seen) => seen.filter((event) => event.type === 'message').length >= count, timeoutMs, `${count} message(s)`);
      return messages();
    },
    waitForLive(count = 1, timeoutMs) {
      return until((seen) => seen.filter((event) => event.type === 'live').length >= count, timeoutMs, `${count} live marker(s)`);
    },
  };
}

/** The statuses a client's connection went through, starting with the current one, consecutive repeats collapsed. */
export function recordStatuses(target: StatusTarget): { readonly statuses: ConnectionStatus[]; stop(): void } {
  const source = statusSourceOf(target);
  const statuses: ConnectionStatus[] = [source.status];
  const stop = source.onChange((status) => {
    if (statuses.at(-1) !== status) statuses.push(status);
  });
  return { statuses, stop };
}
