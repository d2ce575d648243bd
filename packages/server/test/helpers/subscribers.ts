import type { ChannelEvent } from '@herald/server';
import {
  CLIENT_KINDS,
  makeClient,
  recordChannel,
  waitFor,
  type ClientKind,
  type TestClient,
  type TestClientOptions,
} from '../../../../examples/chat-server/test/helpers/clients.js';
import type { NumbersRouter } from './numbersApp.js';

export { CLIENT_KINDS, waitFor, type ClientKind };
export type NumbersClient = TestClient<NumbersRouter>;

/** A client of either kind for the numbers app; `name` becomes its presence name. */
export function numbersClient(kind: ClientKind, url: string, options: TestClientOptions & { name?: string } = {}): NumbersClient {
  return makeClient<NumbersRouter>(kind, url, options.name ? { name: options.name } : undefined, options);
}

export interface NumbersRecorder {
  /** The `n` of every message received, in order. */
  readonly numbers: number[];
  readonly events: ChannelEvent<{ n: number }>[];
  readonly gaps: ChannelEvent<{ n: number }>[];
  stop(): void;
}

/** Subscribes to `numbers` on `stream` and records every event. */
export function recordNumbers(client: NumbersClient, stream: string): NumbersRecorder {
  const channel = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream }, handlers));
  return {
    get numbers() {
      return channel.messages().map((message) => message.n);
    },
    get events() {
      return channel.events.map((entry) => entry.event);
    },
    get gaps() {
      return channel.events.map((entry) => entry.event).filter((event) => event.type === 'gap');
    },
    stop: () => channel.unsubscribe(),
  };
}

export const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
