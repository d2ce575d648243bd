import type { TRPCClient, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { platformWebSocket } from '#platform';
import { fullJitterBackoff } from './backoff.js';
import type { ConnectionStateSource } from './connectionState.js';
import type { HttpTransport, HttpTransportInternals } from './httpTransport.js';
import { newIdempotencyKey } from './idempotencyKey.js';
import { heraldLink } from './link.js';
import { clientDefaults, type HeraldClientOptions } from './options.js';
import type { HeraldPersistence, Outbox } from './persistence.js';
import { ReconnectingConnection } from './reconnectingConnection.js';
import { RequestTracker } from './requestTracker.js';
import { createTrpcClient, type StartCall } from './trpcClient.js';

/**
 * What `createHeraldClient` returns: the typed tRPC client, its link, the
 * connection state, the outbox, and close/reconnect. `TOutbox` is `Outbox`
 * for a client made with `persistence`.
 */
export interface HeraldClient<TRouter extends AnyRouter, TOutbox extends Outbox | null = Outbox | null> {
  /** The typed tRPC client: `client.trpc.chat.send.mutate(...)`. */
  readonly trpc: TRPCClient<TRouter>;
  /** The link under `trpc`, for composing with other tRPC tools (React Query). */
  readonly link: TRPCLink<TRouter>;
  /** The connection's state, to read and to follow. */
  readonly connection: ConnectionStateSource;
  /**
   * The mutations `persistence` recorded that have no outcome yet or failed,
   * and an event per outcome (docs/outbox.md); null without `persistence`.
   */
  readonly outbox: TOutbox;
  /** Closes the socket for good: pending calls fail with `CLIENT_CLOSED`, later ones too, and no reconnect follows. */
  close(): Promise<void>;
  /**
   * Connects again after the server's refusal stopped the client.
   *
   * When the server refuses the connection twice in a row (credentials
   * refused with 4001, or the upgrade answered 401, 403 or 404), the client
   * stops instead of retrying forever: `connection.current` is
   * `{ status: 'closed', refusal }` (the close code or HTTP status, and the
   * error), queries and mutations fail with a typed error (`UNAUTHORIZED`,
   * `FORBIDDEN`, or tRPC's `NOT_FOUND`), and subscriptions wait. Call this
   * once the cause is fixed, typically after the user signs in again: the
   * client asks `connectionParams` for credentials, dials at once, and
   * resumes its subscriptions from their last tracked id.
   *
   * While a retry waits for its backoff, this dials at once (and starts the
   * backoff over). It does nothing while the client is open or dialing, and
   * after `close()`.
   *
   * @example
   * ```ts
   * client.connection.subscribe((state) => {
   *   if (state.status === 'closed' && state.refusal) showSignIn();
   * });
   * // after the user signed in again (connectionParams now returns the new token):
   * client.reconnect();
   * ```
   */
  reconnect(): void;
}

/**
 * A typed client for a Herald server (it also speaks to any tRPC WebSocket
 * server). It reconnects by itself with jittered backoff, heartbeats the
 * link, resubscribes with each subscription's last tracked id, resends calls
 * cut off by a drop, queues calls made offline, and reports its state.
 */
export function createHeraldClient<TRouter extends AnyRouter>(
  options: HeraldClientOptions & { persistence: HeraldPersistence },
): HeraldClient<TRouter, Outbox>;
export function createHeraldClient<TRouter extends AnyRouter>(options: HeraldClientOptions): HeraldClient<TRouter>;
export function createHeraldClient<TRouter extends AnyRouter>(options: HeraldClientOptions): HeraldClient<TRouter> {
  const transport = options.transport ?? clientDefaults.transport;
  checkTransport(transport, options.http);
  const heartbeat = { ...clientDefaults.heartbeat, ...options.heartbeat };
  const offlineQueue = { ...clientDefaults.offlineQueue, ...options.offlineQueue };
  const connectTimeoutMs = options.connectTimeoutMs ?? clientDefaults.connectTimeoutMs;

  const tracker = new RequestTracker({
    maxQueued: offlineQueue.maxSize,
    maxQueuedAgeMs: offlineQueue.maxAgeMs,
    retryMutations: options.retryMutations ?? clientDefaults.retryMutations,
    newKey: newIdempotencyKey,
  });
  const urls = typeof options.url === 'string' ? [options.url] : options.url;
  const connection = new ReconnectingConnection(
    {
      urls,
      http: transport === 'websocket' ? null : (host) => (options.http as HttpTransportInternals).connectionParts(options, urls, host),
      connectionParams: options.connectionParams,
      WebSocket: options.WebSocket ?? platformWebSocket({ connectTimeoutMs }),
      retryDelayMs: fullJitterBackoff(options.backoff),
      pingIntervalMs: heartbeat.pingIntervalMs,
      pongTimeoutMs: heartbeat.pongTimeoutMs,
      connectTimeoutMs,
      maxCallsPerFrame: Math.max(1, Math.floor(options.maxCallsPerFrame ?? clientDefaults.maxCallsPerFrame)),
    },
    tracker,
    {
      onRefreshError: (error) => {
        if (options.onRefreshError) options.onRefreshError(error);
        else console.warn(`[herald] ${error.message}`);
      },
    },
  );
  if (options.onStateChange) connection.state.subscribe(options.onStateChange);
  connection.start();

  // persistence: the outbox and stored positions wrap the tracker (docs/outbox.md).
  const persisted = options.persistence?.attach(tracker, connection.state);
  const start: StartCall = persisted ? (call, observer) => persisted.start(call, observer) : (call, observer) => tracker.start(call, observer);
  return {
    trpc: createTrpcClient<TRouter>(start),
    link: heraldLink<TRouter>(start),
    connection: connection.state,
    outbox: persisted?.outbox ?? null,
    async close() {
      tracker.close();
      connection.close();
      await persisted?.close();
    },
    reconnect() {
      connection.reconnect();
    },
  };
}

/** Fails at once, saying what to do, when `transport` is unknown or needs the HTTP transport and was not given it. */
function checkTransport(transport: unknown, http: HttpTransport | undefined): void {
  if (transport !== 'websocket' && transport !== 'http' && transport !== 'auto') {
    throw new TypeError(`createHeraldClient: transport must be 'websocket', 'http' or 'auto', got ${JSON.stringify(transport)}`);
  }
  if (transport !== 'websocket' && (typeof http !== 'object' || http === null || http.transport !== 'http')) {
    throw new TypeError(
      `createHeraldClient: transport '${transport}' needs the HTTP transport: import { httpTransport } from '@herald/client/http' and pass createHeraldClient({ ..., transport: '${transport}', http: httpTransport })`,
    );
  }
}

