/**
 * Test helpers shared by the chat-server, node-service and server cluster
 * tests: clients of both kinds (tRPC's stock wsLink, Herald's client), bounded
 * waits, subscriptions that record their events, and cleanup for afterEach.
 * The clients default to the demo's `AppRouter`; pass another router type
 * (`stockClient<NumbersRouter>(url)`) for other apps.
 */
import { createTRPCClient, createWSClient, TRPCClientError, wsLink, type TRPCClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import {
  createHeraldClient,
  transformer,
  type ChannelEvent,
  type ConnectionStateSource,
  type ConnectionStatus,
  type HeraldClient,
} from '@herald/client';
import { startChatServer, type AppRouter, type ChatServer, type ChatServerOptions, type Message } from '@herald/example-chat-server';
import { WebSocket } from 'ws';

export type ChatTrpc = TRPCClient<AppRouter>;
export type ChatError = TRPCClientError<AppRouter>;
export type RoomEvent = ChannelEvent<Message>;
export type ConnectionParams = Record<string, string>;

/** The two client kinds every protocol test runs against. */
export const CLIENT_KINDS = ['stock', 'herald'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/** Short reconnect delays, so reconnect tests take milliseconds. */
export const FAST_BACKOFF = { initialDelayMs: 50, maxDelayMs: 200 } as const;
const STOCK_RETRY_DELAY_MS = 50;

export interface TestClient<TRouter extends AnyRouter = AppRouter> {
  readonly kind: ClientKind;
  readonly trpc: TRPCClient<TRouter>;
  /** The Herald client's connection state; `null` for the stock client, which has no such thing. */
  readonly connection: ConnectionStateSource | null;
  close(): Promise<void>;
}

/** Options both client kinds take, for tests that tune them. */
export interface TestClientOptions {
  /** The client's own heartbeat (the stock client's `keepAlive`). */
  readonly heartbeat?: { readonly pingIntervalMs: number; readonly pongTimeoutMs: number };
  /** Herald's client only: how long an opening handshake may take (the stock client has no such bound). */
  readonly connectTimeoutMs?: number;
}

/** tRPC's stock client: `createWSClient` + `wsLink`, with `ws` as the WebSocket. */
export function stockClient<TRouter extends AnyRouter = AppRouter>(
  url: string,
  connectionParams?: ConnectionParams,
  options: TestClientOptions = {},
): TestClient<TRouter> {
  const { heartbeat } = options;
  const wsClient = createWSClient({
    url,
    ...(connectionParams ? { connectionParams } : {}),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => STOCK_RETRY_DELAY_MS,
    ...(heartbeat ? { keepAlive: { enabled: true, intervalMs: heartbeat.pingIntervalMs, pongTimeoutMs: heartbeat.pongTimeoutMs } } : {}),
  });
  const trpc = createTRPCClient<TRouter>({ links: [wsLink<TRouter>({ client: wsClient, transformer })] });
  return { kind: 'stock', trpc, connection: null, close: () => wsClient.close() };
}

/** Herald's client, with short backoff. `url` may list several servers (failover). */
export function heraldClient<TRouter extends AnyRouter = AppRouter>(
  url: string | readonly string[],
  connectionParams?: ConnectionParams,
  options: TestClientOptions = {},
): HeraldClient<TRouter> {
  return createHeraldClient<TRouter>({
    url,
    ...(connectionParams ? { connectionParams } : {}),
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
    ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    backoff: FAST_BACKOFF,
  });
}

export function makeClient<TRouter extends AnyRouter = AppRouter>(
  kind: ClientKind,
  url: string,
  connectionParams?: ConnectionParams,
  options: TestClientOptions = {},
): TestClient<TRouter> {
  if (kind === 'stock') return stockClient<TRouter>(url, connectionParams, options);
  const client = heraldClient<TRouter>(url, connectionParams, options);
  return { kind, trpc: client.trpc, connection: client.connection, close: () => client.close() };
}

/**
 * Closes what a test opened, newest first (clients before the servers they
 * talk to). Call `run()` in afterEach.
 */
export class Cleanup {
  private readonly tasks: (() => Promise<unknown> | unknown)[] = [];

  add<T extends { close(): Promise<unknown> | unknown }>(resource: T): T {
    this.tasks.push(() => resource.close());
    return resource;
  }

  defer(task: () => Promise<unknown> | unknown): void {
    this.tasks.push(task);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const task of this.tasks.splice(0).reverse()) {
      try {
        await task();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

/** A chat server on a free local port. */
export function startTestServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  return startChatServer({ port: 0, host: '127.0.0.1', ...options });
}

/** Logs in as `name` on a throwaway stock client and returns the session. */
export async function loginToken(url: string, name = 'tester'): Promise<{ token: string; user: { id: string; name: string } }> {
  const client = stockClient(url);
  try {
    return await client.trpc.auth.login.mutate({ name });
  } finally {
    await client.close();
  }
}

/** Polls `predicate` (which may be async, e.g. a query) until it holds; fails after `timeoutMs`. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000, label = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`waitFor: ${label} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `promise`, or a rejection after `timeoutMs`. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, label = 'promise'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label} did not settle within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The TRPCClientError `promise` rejects with; fails if it resolves or rejects with something else. */
export async function trpcErrorOf(promise: Promise<unknown>): Promise<ChatError> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) return error as ChatError;
    throw new Error(`expected a TRPCClientError, got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}

/** What a recorded subscription received. */
export interface RecordedSubscription<TEvent> {
  /** Every event in arrival order, with its tracked id (`null` for an untracked one). */
  readonly events: readonly { readonly id: string | null; readonly event: TEvent }[];
  readonly errors: readonly unknown[];
  /** Resolves once `predicate` holds for the events so far; checked on every event. */
  until(predicate: (events: readonly TEvent[]) => boolean, timeoutMs?: number, label?: string): Promise<void>;
  unsubscribe(): void;
}

/** A recorded subscription to a Herald channel stream (`ChannelEvent`s). */
export interface ChannelSubscription<TMessage> extends RecordedSubscription<ChannelEvent<TMessage>> {
  readonly events: readonly { readonly id: string; readonly event: ChannelEvent<TMessage> }[];
  /** The messages received, in order. */
  messages(): TMessage[];
  /** Resolves with the messages once at least `count` have arrived. */
  waitForMessages(count: number, timeoutMs?: number): Promise<TMessage[]>;
  /** Resolves once `count` `live` markers have arrived (the first one: the subscription is live). */
  waitForLive(count?: number, timeoutMs?: number): Promise<void>;
}

export type RoomSubscription = ChannelSubscription<Message>;

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
  const events: { id: string | null; event: TEvent }[] = [];
  const errors: unknown[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const waiter of [...waiters]) waiter();
  };

  const subscription = start({
    onData: (data) => {
      if (options.tracked) {
        const { id, data: event } = data as { id: string; data: TEvent };
        events.push({ id, event });
      } else {
        events.push({ id: null, event: data as TEvent });
      }
      notify();
    },
    onError: (error) => {
      errors.push(error);
      notify();
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
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  return { events, errors, until, unsubscribe: () => subscription.unsubscribe() };
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
    events,
    errors: recorded.errors,
    messages,
    until,
    unsubscribe: recorded.unsubscribe,
    async waitForMessages(count, timeoutMs) {
      await until((seen) => seen.filter((event) => event.type === 'message').length >= count, timeoutMs, `${count} message(s)`);
      return messages();
    },
    waitForLive(count = 1, timeoutMs) {
      return until((seen) => seen.filter((event) => event.type === 'live').length >= count, timeoutMs, `${count} live marker(s)`);
    },
  };
}

/** Subscribes to `chat.onMessage` for `room` and records what arrives. */
export function subscribeRoom(trpc: ChatTrpc, room: string): RoomSubscription {
  return recordChannel<Message>((handlers) => trpc.chat.onMessage.subscribe({ room }, handlers));
}

/** The statuses a Herald client's connection went through, consecutive repeats collapsed. */
export function recordStatuses(connection: ConnectionStateSource): { readonly statuses: ConnectionStatus[]; stop(): void } {
  const statuses: ConnectionStatus[] = [connection.current.status];
  const stop = connection.subscribe((next) => {
    if (statuses.at(-1) !== next.status) statuses.push(next.status);
  });
  return { statuses, stop };
}

/** A frame a server sent to a raw socket, parsed. */
export interface RawFrame {
  readonly id: number | null;
  readonly result?: { readonly data: unknown };
  readonly error?: unknown;
}

/**
 * A plain `ws` socket that has sent `connectionParams` with `token`: for
 * tests that write wire frames by hand. `frames` collects the answers that
 * come back (notices such as `herald.session` are left out).
 */
export async function rawAuthenticatedSocket(url: string, token: string): Promise<{ socket: WebSocket; frames: RawFrame[] }> {
  const socket = new WebSocket(`${url}?connectionParams=1`);
  const frames: RawFrame[] = [];
  socket.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as RawFrame & { method?: string };
    if (frame.method === undefined) frames.push(frame);
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  socket.send(JSON.stringify({ method: 'connectionParams', data: { token } }));
  return { socket, frames };
}
