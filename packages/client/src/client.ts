import type { TRPCClient, TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { heraldLink } from './calls/link.js';
import { RequestTracker } from './calls/requestTracker.js';
import type { StartCall } from './calls/start.js';
import { createTrpcClient } from './calls/trpcClient.js';
import { resolveClientConfig } from './config.js';
import type { ConnectionStateSource } from './connection/connectionState.js';
import { ReconnectingConnection } from './connection/reconnectingConnection.js';
import type { HeraldClientOptions } from './options.js';
import type { HeraldPersistence, Outbox } from './persistence.js';

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
  const config = resolveClientConfig(options);
  const tracker = new RequestTracker(config.tracker);
  const connection = new ReconnectingConnection(config.connection, tracker);
  if (config.onStateChange) connection.state.subscribe(config.onStateChange);
  connection.start();

  // persistence: the outbox and stored positions wrap the tracker (docs/outbox.md).
  const persisted = config.persistence?.attach(tracker, connection.state);
  const start: StartCall = persisted ? (call, observer) => persisted.start(call, observer) : (call, observer) => tracker.start(call, observer);
  return {
    trpc: createTrpcClient<TRouter>(start, connection.state),
    link: heraldLink<TRouter>(start, connection.state),
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
