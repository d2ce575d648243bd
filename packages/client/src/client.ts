import { createTRPCClient, createWSClient, TRPCClientError, wsLink, type TRPCClient, type TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import type { AnyRouter } from '@trpc/server';
import { transformer } from '@herald/shared';
import { platformWebSocket } from '#platform';
import { fullJitterBackoff } from './backoff.js';
import { ConnectionStateMachine, type ConnectionStateSource } from './connectionState.js';
import { clientDefaults, type HeraldClientOptions } from './options.js';
import { UrlRotation } from './urlRotation.js';

export interface HeraldClient<TRouter extends AnyRouter> {
  /** The typed tRPC client: `client.trpc.chat.send.mutate(...)`. */
  readonly trpc: TRPCClient<TRouter>;
  /** The link under `trpc`, for composing with other tRPC tools (React Query). */
  readonly link: TRPCLink<TRouter>;
  /** The connection's state, to read and to follow. */
  readonly connection: ConnectionStateSource;
  /** Closes the socket for good; pending calls fail and no reconnect follows. */
  close(): Promise<void>;
}

/**
 * A typed client for a Herald (or any tRPC WebSocket) server. It reconnects by
 * itself with jittered backoff, heartbeats the link, resubscribes with each
 * subscription's last tracked id, and reports its connection state.
 */
export function createHeraldClient<TRouter extends AnyRouter>(options: HeraldClientOptions): HeraldClient<TRouter> {
  const urls = new UrlRotation(typeof options.url === 'string' ? [options.url] : options.url);
  const heartbeat = { ...clientDefaults.heartbeat, ...options.heartbeat };
  const state = new ConnectionStateMachine();
  if (options.onStateChange) state.subscribe(options.onStateChange);
  let attempt = 0;
  let closed = false;

  const wsClient = createWSClient({
    url: () => urls.next(),
    connectionParams: options.connectionParams ?? null,
    WebSocket: options.WebSocket ?? platformWebSocket({ connectTimeoutMs: options.connectTimeoutMs ?? clientDefaults.connectTimeoutMs }),
    retryDelayMs: fullJitterBackoff(options.backoff),
    keepAlive: { enabled: true, intervalMs: heartbeat.pingIntervalMs, pongTimeoutMs: heartbeat.pongTimeoutMs },
    onOpen: () => urls.markOpened(),
  });

  // tRPC's own state is `idle | connecting | pending` (pending = open), with
  // the error of the last failed attempt; Herald's names say what the app needs.
  const subscription = wsClient.connectionState.subscribe({
    next: (trpcState) => {
      if (closed) return;
      if (trpcState.state === 'pending') {
        attempt = 0;
        state.set({ status: 'open', url: urls.current });
      } else if (trpcState.state === 'connecting' && trpcState.error) {
        attempt += 1;
        state.set({ status: 'reconnecting', attempt, error: trpcState.error });
      }
    },
  });

  const socketLink = wsLink<TRouter>({ client: wsClient, transformer });
  // tRPC's client reopens its socket for any call made after close(); Herald
  // makes close final, so such calls fail instead of reconnecting.
  const link: TRPCLink<TRouter> = (runtime) => {
    const next = socketLink(runtime);
    return (ctx) =>
      closed
        ? observable((observer) => {
            observer.error(TRPCClientError.from(new Error('This Herald client was closed; create a new one to reconnect')));
          })
        : next(ctx);
  };

  return {
    trpc: createTRPCClient<TRouter>({ links: [link] }),
    link,
    connection: state,
    async close() {
      if (closed) return;
      closed = true;
      subscription.unsubscribe();
      state.set({ status: 'closed' });
      await wsClient.close();
    },
  };
}
