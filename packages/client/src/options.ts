import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { ConnectionState } from '@herald/shared';
import { DEFAULT_CLIENT_PING_INTERVAL_MS, DEFAULT_CLIENT_PONG_TIMEOUT_MS } from '@herald/shared/internal';
import type { ClientTracing } from './calls/tracing.js';
import type { BackoffOptions } from './connection/backoff.js';
import type { TransportMode } from './connection/transportChooser.js';
import type { HeraldPersistence } from './persistence.js';
import type { EventSourceClass } from './platform/types.js';
import type { ConnectionParams } from './sessions/session.js';

export type { ConnectionParams } from './sessions/session.js';

/** `HeraldClientOptions['connectionParams']`: fixed credentials, none, or a function asked again on every dial and refresh. */
export type ConnectionParamsOption = ConnectionParams | null | (() => ConnectionParams | null | Promise<ConnectionParams | null>);

/**
 * The HTTP fallback for `createHeraldClient`, as `@herald/client/http`
 * exports it (`httpTransport`): pass it as the `http` option with
 * `transport: 'http'` or `'auto'`. It lives in an entry of its own so that an
 * app on `transport: 'websocket'` never has it (or tRPC's HTTP links) in its
 * bundle.
 */
export interface HttpTransport {
  /** Says what this is; the rest is the client's business. */
  readonly transport: 'http';
}

/**
 * The options of `createHeraldClient`: where the server is, the transport,
 * credentials, reconnects, heartbeats and the offline queue. Only `url` is
 * required; docs/options.md lists every default.
 */
export interface HeraldClientOptions {
  /**
   * The server's WebSocket URL (`ws://host:8787/ws`), or several: the client
   * starts at a random one and moves to the next when a connection attempt fails.
   */
  url: string | readonly string[];
  /**
   * How to reach the server.
   * - `'websocket'`: one WebSocket for everything (works with any tRPC
   *   WebSocket server, not only Herald's).
   * - `'http'`: the server's HTTP endpoint (`httpUrl`): queries batched, each
   *   mutation its own request (with an `Idempotency-Key` header), each
   *   subscription a Server-Sent Events stream. For networks whose proxies
   *   strip WebSocket upgrades.
   * - `'auto'`: WebSocket first; after `httpFallback.afterFailures` failed
   *   upgrades in a row (at once when an upgrade is answered with a plain HTTP
   *   response, which only Node can see), HTTP; then a WebSocket upgrade is
   *   tried every `httpFallback.upgradeProbeIntervalMs`, and calls move back
   *   to it when it opens. Subscriptions carry their last tracked id across
   *   every switch: nothing is lost or delivered twice.
   *
   * `'http'` and `'auto'` need the `http` option.
   *
   * `client.connection.current.transport` (when `open`) says which is in use.
   * @default 'websocket'
   */
  transport?: TransportMode;
  /**
   * What WebSocket frames are made of.
   * - `'json'`: text frames of JSON, as every tRPC client and server speaks.
   * - `'msgpack'`: binary frames of MessagePack, `Uint8Array` values as
   *   MessagePack `bin` (no base64). The client offers the subprotocols
   *   `herald.json` and `herald.msgpack`; a Herald server picks
   *   `herald.msgpack`, and against any other answer (a server that does not
   *   speak MessagePack picks the first offered, or none) the connection
   *   speaks JSON. Every guarantee holds on both.
   *
   * The HTTP transport always speaks JSON.
   *
   * JSON stays the default: in `pnpm bench` (bench/results.md, "JSON against
   * MessagePack frames") MessagePack makes frames smaller (a 64 KiB binary
   * payload's frame is its size, not a third more) and halves the client's
   * CPU per message carrying bytes, but calls cost this client more CPU, and
   * the server's CPU per delivery is no lower. Choose `'msgpack'` when
   * messages or inputs carry bytes.
   * @default 'json'
   */
  encoding?: WireEncoding;
  /**
   * The HTTP transport, which `transport: 'http'` and `'auto'` need:
   * `import { httpTransport } from '@herald/client/http'`. It is an entry of
   * its own so that an app on WebSocket alone leaves it (and tRPC's HTTP
   * links) out of its bundle.
   * @default none: WebSocket only
   */
  http?: HttpTransport;
  /**
   * The server's HTTP endpoint (Herald's `httpPath`), or one per `url`.
   * @default each `url` with `ws:`/`wss:` made `http:`/`https:` and its path `/trpc`
   */
  httpUrl?: string | readonly string[];
  /** When `transport: 'auto'` falls back to HTTP, and how it comes back. */
  httpFallback?: {
    /**
     * WebSocket attempts that must fail in a row (without opening) before
     * HTTP is tried. An upgrade answered with an HTTP error (Node) falls
     * back at once.
     * @default 2
     */
    afterFailures?: number;
    /**
     * While on HTTP, how often a WebSocket upgrade is tried again.
     * @default 30_000
     */
    upgradeProbeIntervalMs?: number;
  };
  /**
   * Sent as the first frame of every WebSocket connection; the server's
   * `authenticate` and `createContext` read it. A function is called again on
   * every reconnect and ahead of the expiry the server announces (an in-band
   * refresh, see `onRefreshError`), so a refreshed token is picked up; after
   * the server refuses the credentials (4001) it is asked once more for the
   * retry, and a second refusal stops the client until `client.reconnect()`
   * (see `HeraldClient.reconnect`). Over HTTP it is called for every request
   * and stream connection, and travels in a header, never in a URL.
   */
  connectionParams?: ConnectionParams | null | (() => ConnectionParams | null | Promise<ConnectionParams | null>);
  /**
   * Called when an in-band refresh of the credentials failed: the server
   * refused the new `connectionParams` (the error's `data.heraldCode` says
   * why, for example `UNAUTHORIZED`), or the `connectionParams` function
   * threw. The connection keeps its old credentials until they expire, is
   * then closed with 4005 and reconnects with fresh ones; a sign-in page is
   * the usual answer.
   *
   * The server says how long it trusts the credentials (it does when its
   * `authenticate` returns `withExpiry`, as `jwtAuthenticator` does for a
   * token with `exp`); the client calls `connectionParams` again ahead of
   * that and sends the result on the open socket: same socket, same
   * subscriptions, no gap. Needs `connectionParams` to be a function.
   * @default a `console.warn`
   */
  onRefreshError?: (error: TRPCClientError<AnyRouter>) => void;
  /**
   * Delay between reconnect attempts (capped exponential, full jitter). It
   * starts over only once a connection proved itself (the server answered on
   * it), so a server that closes each connection right after it opens is
   * retried at a growing pace, never in a storm. A 429 or 503 with
   * `Retry-After` (Node) waits at least that long.
   */
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
   * An EventSource class for subscriptions over HTTP (Node 20 has none).
   * Credentials travel in a header with any class that takes a `fetch`
   * option (the `eventsource` package does, in Node and in browsers); with
   * the browser's own, which cannot send headers, each stream connection
   * first trades them for a single-use ticket, so no URL ever carries them.
   * @default the browser's `EventSource`; in Node, the `eventsource` package
   */
  EventSource?: EventSourceClass;
  /**
   * The `fetch` for HTTP calls and probes.
   * @default the runtime's `fetch`
   */
  fetch?: typeof globalThis.fetch;
  /**
   * Give up on a connection attempt whose opening handshake has not finished
   * after this long, and retry. Node only; browsers bound it themselves.
   * @default 10_000
   */
  connectTimeoutMs?: number;
  /**
   * The first call of an event-loop tick is sent at once; further calls made
   * in the same tick are sent together as tRPC batches of at most this many
   * (one frame, one write). Keep it at or under the server's
   * `limits.maxBatchSize` (Herald's default is 100). 1 sends every call in a
   * frame of its own.
   * @default 10
   */
  maxCallsPerFrame?: number;
  /** Calls made while there is no connection wait here, and are sent in order when it comes back. */
  offlineQueue?: {
    /**
     * Calls that may wait at once; one more fails with `OFFLINE_QUEUE_FULL`.
     * @default 1_000
     */
    maxSize?: number;
    /**
     * How long a query or mutation may wait for a connection before it
     * fails: with `OFFLINE_TIMEOUT` if it was never written to a socket,
     * with `OUTCOME_UNKNOWN` if it was sent on a socket that was then lost
     * (subscriptions wait as long as the app keeps them).
     * @default 30_000
     */
    maxAgeMs?: number;
  };
  /**
   * How long a query or mutation may go unanswered after it was first
   * written to a socket (or HTTP request), whatever the connection does
   * meanwhile (resends on later sockets included); then it fails with
   * `OUTCOME_UNKNOWN`, and the server is asked to stop it. A server that
   * answers heartbeats but never the call cannot keep it pending forever.
   * Checked by one shared sweep (not a timer per call), so a call fails up
   * to a quarter of this bound (at most a second) late. Keep it above the
   * server's `idempotency.waitTimeoutMs` (30 s) and the slowest procedure;
   * `null` turns it off. Subscriptions are never timed out.
   * @default 60_000
   */
  callTimeoutMs?: number | null;
  /**
   * Resend a mutation that was in flight when the connection dropped, with the
   * same idempotency key, so a Herald server runs it at most once and answers
   * the repeat with the first result. Turn off against servers that do not
   * honour idempotency keys (stock tRPC): such mutations then fail with
   * `CONNECTION_LOST`.
   * @default true
   */
  retryMutations?: boolean;
  /**
   * Makes mutations and subscription positions outlive the page or the
   * process: every mutation is recorded before it is sent and sent again,
   * with the same idempotency key, by the next client on the same storage
   * until its outcome is known (`client.outbox`); each subscription's last
   * position is stored and a subscription made again resumes from it.
   * Build one with `createPersistence` from `@herald/client/persistence` on a
   * storage: `fileStorage` (`@herald/client/file`, Node), `indexedDbStorage`
   * (`@herald/client/indexeddb`, browsers) or `memoryStorage`. See
   * docs/outbox.md.
   * @default none: calls and positions live in this client's memory only
   */
  persistence?: HeraldPersistence;
  /**
   * Called with a frame from the server that the client could not decode or
   * revive and that belongs to no call (not JSON, no usable id, a malformed
   * notice, or an unreadable answer to a call that is gone). The frame is
   * ignored; the connection goes on. A frame the client cannot read for a call
   * it has fails that call instead, with a `PARSE_ERROR` (`error.data.code`)
   * whose message says what was wrong, and is not reported here.
   * @default a `console.warn`
   */
  onError?: (error: TRPCClientError<AnyRouter>) => void;
  /**
   * Spans for this client's calls, and their trace context sent with each
   * call so a Herald server continues the trace: pass `openTelemetry()` from
   * `@herald/client/otel` (it needs `@opentelemetry/api`, an optional peer
   * dependency, and records spans only while an OpenTelemetry SDK is
   * registered). Over HTTP the trace context goes as `traceparent` request
   * headers (a query that carries one is not batched).
   * See docs/observability.md.
   * @default none: calls make no spans and carry no trace context
   */
  tracing?: ClientTracing;
  /** Called on every connection state change. Same as `client.connection.subscribe`. */
  onStateChange?: (next: ConnectionState, previous: ConnectionState) => void;
}

/** `HeraldClientOptions['encoding']`: what WebSocket frames are made of. */
export type WireEncoding = 'json' | 'msgpack';

/** The defaults of `HeraldClientOptions`, merged under the options passed. */
export const clientDefaults = {
  transport: 'websocket',
  encoding: 'json',
  httpFallback: { afterFailures: 2, upgradeProbeIntervalMs: 30_000 },
  connectTimeoutMs: 10_000,
  maxCallsPerFrame: 10,
  offlineQueue: { maxSize: 1_000, maxAgeMs: 30_000 },
  callTimeoutMs: 60_000,
  retryMutations: true,
  heartbeat: {
    pingIntervalMs: DEFAULT_CLIENT_PING_INTERVAL_MS,
    pongTimeoutMs: DEFAULT_CLIENT_PONG_TIMEOUT_MS,
  },
} as const;
