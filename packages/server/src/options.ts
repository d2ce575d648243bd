import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnyRouter, inferRouterContext } from '@trpc/server';
import {
  DEFAULT_SERVER_PING_INTERVAL_MS,
  DEFAULT_SERVER_PONG_TIMEOUT_MS,
  WS_PATH,
} from '@herald/shared';
import type { Herald } from './herald.js';

/** What `createContext` gets: once per WebSocket connection, after its `connectionParams` arrive. */
export interface HeraldContextOptions {
  /** The `connectionParams` the client sent, or `null` if it sent none. */
  readonly connectionParams: Readonly<Record<string, string>> | null;
  /** The HTTP upgrade request (headers, remote address). */
  readonly req: IncomingMessage;
}

export interface HeartbeatOptions {
  /**
   * Quiet time on a socket before the server sends `PING`. Any frame from the
   * client counts as proof of life.
   * @default 10_000
   */
  pingIntervalMs?: number;
  /**
   * How long after a `PING` the server waits for any frame before it drops
   * the connection (ending its subscriptions and presence).
   * @default 5_000
   */
  pongTimeoutMs?: number;
}

export interface LimitOptions {
  /**
   * Largest incoming frame, in bytes; a bigger one closes the socket with
   * 1009. `ws` would allow 100 MiB, far too much for an internet-facing server.
   * @default 1_048_576
   */
  maxPayloadBytes?: number;
  /**
   * Subscriptions one connection may hold at once; one more is refused with
   * `LIMIT_EXCEEDED` (the connection stays up).
   * @default 1_000
   */
  maxSubscriptionsPerConnection?: number;
  /**
   * Requests one frame may batch; a bigger batch is refused whole.
   * @default 100
   */
  maxBatchSize?: number;
  /**
   * Bytes queued for a socket that is not reading before it is closed with
   * 4002 (slow consumer). Its client reconnects and resumes from history.
   * @default 4_194_304
   */
  maxBufferedBytes?: number;
  /**
   * Time a client that announced `connectionParams` has to send them; then
   * the connection is closed with 4001.
   * @default 10_000
   */
  connectionParamsTimeoutMs?: number;
}

export interface IdempotencyOptions {
  /**
   * How long an outcome is kept for repeats, and how long a claim whose run
   * never finished (its process died) blocks a repeat.
   * @default 600_000
   */
  ttlMs?: number;
  /**
   * How long a repeat waits for a first attempt that is still running before
   * it fails with TIMEOUT.
   * @default 30_000
   */
  waitTimeoutMs?: number;
  /**
   * Who the key belongs to, from the connection's context (for example the
   * user id), so one user's key can never return another user's result.
   * @default every key in one space (keys are random UUIDs)
   */
  scope?: (ctx: unknown) => string | null | undefined;
}

export interface HeraldServerOptions<TRouter extends AnyRouter> {
  /** The app's tRPC router. Create it with `transformer` from `@herald/shared`. */
  router: TRouter;
  /** Builds the context every call on a connection shares. Throw a `TRPCError` to refuse the connection. */
  createContext: (opts: HeraldContextOptions) => inferRouterContext<TRouter> | Promise<inferRouterContext<TRouter>>;
  /** The channels hub, so health reports its broker and shutdown covers it. */
  herald?: Herald;
  /**
   * TCP port. `0` picks a free one (see `server.port`).
   * @default 8787
   */
  port?: number;
  /**
   * Interface to listen on.
   * @default undefined (every interface, as Node's `listen`)
   */
  host?: string;
  /**
   * Path WebSocket upgrades are accepted on; other paths get 404.
   * @default '/ws'
   */
  path?: string;
  heartbeat?: HeartbeatOptions;
  /** Bounds that keep one client from taking more than its share. */
  limits?: LimitOptions;
  /**
   * How long `close()` waits for clients to close their sockets after the
   * reconnect notice before it terminates them.
   * @default 2_000
   */
  closeTimeoutMs?: number;
  /**
   * Serves HTTP requests Herald does not (anything other than `/healthz` and
   * `/readyz`), for example a built web app. Return `false` to let Herald
   * answer 404.
   */
  handleHttp?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** Mutations sent with an idempotency key (Herald's client does) run once per key. */
  idempotency?: IdempotencyOptions;
  /** Called for every error a procedure throws, and for connection errors. */
  onError?: (info: { error: Error; path: string | undefined; type: string }) => void;
}

export const serverDefaults = {
  port: 8787,
  path: WS_PATH,
  heartbeat: {
    pingIntervalMs: DEFAULT_SERVER_PING_INTERVAL_MS,
    pongTimeoutMs: DEFAULT_SERVER_PONG_TIMEOUT_MS,
  },
  limits: {
    maxPayloadBytes: 1_048_576,
    maxSubscriptionsPerConnection: 1_000,
    maxBatchSize: 100,
    maxBufferedBytes: 4_194_304,
    connectionParamsTimeoutMs: 10_000,
  },
  closeTimeoutMs: 2_000,
  idempotency: { ttlMs: 600_000, waitTimeoutMs: 30_000 },
} as const;
