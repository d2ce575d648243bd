/** Clients of the numbers app (apps/numbers.ts), of either kind, and recordings of its streams. */
import type { PresenceEvent } from '@herald/shared';
import { makeClient, type ClientKind, type TestClient, type TestClientOptions } from '../clients.js';
import {
  recordChannel,
  recordSubscription,
  type ChannelSubscription,
  type RecordedSubscription,
  type SubscriptionHandlers,
} from '../recording.js';
import type { NumbersRouter } from './numbers.js';

export type NumbersClient = TestClient<NumbersRouter>;

/**
 * A client of the numbers app, of either kind; `name` becomes its presence
 * name. Only Herald's client takes several URLs (failover).
 */
export function numbersClient(kind: ClientKind, url: string | readonly string[], options: TestClientOptions & { name?: string } = {}): NumbersClient {
  return makeClient<NumbersRouter>(kind, url, options.name ? { name: options.name } : undefined, options);
}

export interface NumbersSubscription extends ChannelSubscription<{ n: number }> {
  /** The `n` of every message received, in order. */
  numbers(): number[];
}

/** Subscribes to the `numbers` stream `stream` and records what arrives. */
export function subscribeNumbers(client: NumbersClient, stream: string): NumbersSubscription {
  const channel = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream }, handlers));
  return { ...channel, numbers: () => channel.messages().map((message) => message.n) };
}

/** Subscribes to the presence events of `stream` and records them. */
export function subscribePresence(client: NumbersClient, stream: string): RecordedSubscription<PresenceEvent<{ name: string }>> {
  type Event = PresenceEvent<{ name: string }>;
  return recordSubscription<Event>(
    (handlers) => client.trpc.presence.subscribe({ stream }, handlers as SubscriptionHandlers<Event>),
    { tracked: false },
  );
}

/** `[from, from + 1, ..., to]`. */
export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
