/**
 * Clients of both kinds every protocol test runs against: tRPC's stock
 * `createWSClient` + `wsLink`, and Herald's `createHeraldClient`. Generic over
 * the router: `makeClient<NumbersRouter>('stock', url)`.
 */
import { createTRPCClient, createWSClient, TRPCClientError, wsLink, type TRPCClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { createHeraldClient, type ConnectionStateSource, type HeraldClient, type WireEncoding } from '@herald/client';
import { msgpackEncoder, transformer } from '@herald/shared';
import { WebSocket } from 'ws';
import { heraldStatuses, stockStatuses, type StatusSource } from './statuses.js';

export type ConnectionParams = Record<string, string>;

/** The two client kinds every protocol test runs against. */
export const CLIENT_KINDS = ['stock', 'herald'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

/**
 * The WebSocket encoding clients use unless a test names one:
 * `HERALD_TEST_ENCODING=msgpack` runs every protocol test over MessagePack
 * (the stock client with `msgpackEncoder`, Herald's with `encoding: 'msgpack'`).
 */
export const TEST_ENCODING: WireEncoding = process.env['HERALD_TEST_ENCODING'] === 'msgpack' ? 'msgpack' : 'json';

/** Short reconnect delays, so reconnect tests take milliseconds. */
export const FAST_BACKOFF = { initialDelayMs: 50, maxDelayMs: 200 } as const;
const STOCK_RETRY_DELAY_MS = 50;

export interface TestClient<TRouter extends AnyRouter> {
  readonly kind: ClientKind;
  readonly trpc: TRPCClient<TRouter>;
  /** The Herald client's connection state; `null` for the stock client, which has no such thing. */
  readonly connection: ConnectionStateSource | null;
  /** The connection status of either kind, to follow with `nextState` or `recordStatuses`. */
  readonly statuses: StatusSource;
  close(): Promise<void>;
}

/** Options both client kinds take, for tests that tune them. */
export interface TestClientOptions {
  /** The client's own heartbeat (the stock client's `keepAlive`). */
  readonly heartbeat?: { readonly pingIntervalMs: number; readonly pongTimeoutMs: number };
  /** Herald's client only: how long an opening handshake may take (the stock client has no such bound). */
  readonly connectTimeoutMs?: number;
  /** What frames are made of: Herald's `encoding`, or the stock client with `msgpackEncoder`. @default TEST_ENCODING */
  readonly encoding?: WireEncoding;
}

/** tRPC's stock client: `createWSClient` + `wsLink`, with `ws` as the WebSocket. */
export function stockClient<TRouter extends AnyRouter>(
  url: string,
  connectionParams?: ConnectionParams,
  options: TestClientOptions = {},
): TestClient<TRouter> {
  const { heartbeat } = options;
  const wsClient = createWSClient({
    url,
    ...((options.encoding ?? TEST_ENCODING) === 'msgpack' ? { experimental_encoder: msgpackEncoder } : {}),
    ...(connectionParams ? { connectionParams } : {}),
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => STOCK_RETRY_DELAY_MS,
    ...(heartbeat ? { keepAlive: { enabled: true, intervalMs: heartbeat.pingIntervalMs, pongTimeoutMs: heartbeat.pongTimeoutMs } } : {}),
  });
  const trpc = createTRPCClient<TRouter>({ links: [wsLink<TRouter>({ client: wsClient, transformer })] });
  return { kind: 'stock', trpc, connection: null, statuses: stockStatuses(wsClient), close: () => wsClient.close() };
}

/** Herald's client, with short backoff. `url` may list several servers (failover). */
export function heraldClient<TRouter extends AnyRouter>(
  url: string | readonly string[],
  connectionParams?: ConnectionParams,
  options: TestClientOptions = {},
): HeraldClient<TRouter> {
  return createHeraldClient<TRouter>({
    url,
    ...(connectionParams ? { connectionParams } : {}),
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
    ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    encoding: options.encoding ?? TEST_ENCODING,
    backoff: FAST_BACKOFF,
  });
}

/** A client of `kind`. Only Herald's client takes several URLs. */
export function makeClient<TRouter extends AnyRouter>(
  kind: ClientKind,
  url: string | readonly string[],
  connectionParams?: ConnectionParams,
  options: TestClientOptions = {},
): TestClient<TRouter> {
  if (kind === 'stock') {
    if (typeof url !== 'string') throw new TypeError('the stock client takes one URL');
    return stockClient<TRouter>(url, connectionParams, options);
  }
  const client = heraldClient<TRouter>(url, connectionParams, options);
  return { kind, trpc: client.trpc, connection: client.connection, statuses: heraldStatuses(client.connection), close: () => client.close() };
}

/** The TRPCClientError `promise` rejects with; fails if it resolves or rejects with something else. */
export async function trpcErrorOf<TRouter extends AnyRouter = AnyRouter>(promise: Promise<unknown>): Promise<TRPCClientError<TRouter>> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) return error as TRPCClientError<TRouter>;
    throw new Error(`expected a TRPCClientError, got ${String(error)}`, { cause: error });
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}
