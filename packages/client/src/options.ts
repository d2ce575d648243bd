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
  /** Called on every connection state change. Same as `client.connection.subscribe`. */
  onStateChange?: (next: ConnectionState, previous: ConnectionState) => void;
}

export const clientDefaults = {
  connectTimeoutMs: 10_000,
  heartbeat: {
    pingIntervalMs: DEFAULT_CLIENT_PING_INTERVAL_MS,
    pongTimeoutMs: DEFAULT_CLIENT_PONG_TIMEOUT_MS,
  },
} as const;
