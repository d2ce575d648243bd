import { DEFAULT_CLIENT_PING_INTERVAL_MS, DEFAULT_CLIENT_PONG_TIMEOUT_MS, type ConnectionState } from '@herald/shared';
import type { BackoffOptions } from './backoff.js';

export type ConnectionParams = Record<string, string>;

export interface HeraldClientOptions {
  /**
   * The server's WebSocket URL (`ws://host:8787/ws`), or several: the client
   * starts at a random one and moves to the next when a connection attempt fails.
   */
  url: string | readonly string[];
  /**
   * Sent as the first frame of every connection; the server's `createContext`
   * reads it. A function is called again on every reconnect, so a refreshed
   * token is picked up.
   */
  connectionParams?: ConnectionParams | null | (() => ConnectionParams | null | Promise<ConnectionParams | null>);
  /** Delay between reconnect attempts (capped exponential, full jitter). */
  backoff?: BackoffOptions;
  /** The client's own heartbeat: it pings the server and reconnects when no answer comes. */
  heartbeat?: {
    /**
     * Quiet time before the client sends `PING`.
     * @default 10_000
     */
    pingIntervalMs?: number;
    /**
     * How long to wait for `PONG` (or any frame) before reconnecting.
     * @default 5_000
     */
    pongTimeoutMs?: number;
  };
  /**
   * A WebSocket class, for runtimes without a usable one.
   * @default the browser's `WebSocket`; in Node, `ws`
   */
  WebSocket?: typeof globalThis.WebSocket;
  /**
   * Give up on a connection attempt whose opening handshake has not finished
   * after this long, and retry. Node only; browsers bound it themselves.
   * @default 10_000
   */
  connectTimeoutMs?: number;
  /** Calls made while there is no connection wait here, and are sent in order when it comes back. */
  offlineQueue?: {
    /**
     * Calls that may wait at once; one more fails with `OFFLINE_QUEUE_FULL`.
     * @default 1_000
     */
    maxSize?: number;
    /**
     * How long a query or mutation may wait before it fails with
     * `OFFLINE_TIMEOUT` (subscriptions wait as long as the app keeps them).
     * @default 30_000
     */
    maxAgeMs?: number;
  };
  /**
   * Resend a mutation that was in flight when the connection dropped, with the
   * same idempotency key, so a Herald server runs it at most once and answers
   * the repeat with the first result. Turn off against servers that do not
   * honour idempotency keys (stock tRPC): such mutations then fail with
   * `CONNECTION_LOST`.
   * @default true
   */
  retryMutations?: boolean;
  /** Called on every connection state change. Same as `client.connection.subscribe`. */
  onStateChange?: (next: ConnectionState, previous: ConnectionState) => void;
}

export const clientDefaults = {
  connectTimeoutMs: 10_000,
  offlineQueue: { maxSize: 1_000, maxAgeMs: 30_000 },
  retryMutations: true,
  heartbeat: {
    pingIntervalMs: DEFAULT_CLIENT_PING_INTERVAL_MS,
    pongTimeoutMs: DEFAULT_CLIENT_PONG_TIMEOUT_MS,
  },
} as const;
