import { createContext, useContext, type ReactElement, type ReactNode } from 'react';
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { createTRPCContext, type TRPCOptionsProxy } from '@trpc/tanstack-react-query';
import type { TRPCClient } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { ConnectionState } from '@herald/shared';
import type { HeraldClient } from '../client.js';
import { useChannel } from './channel.js';
import { useConnectionStateOf } from './connection.js';
import { useLiveQuery } from './liveQuery.js';
import { useOutboxOf, type OutboxState } from './outbox.js';
import { usePresence } from './presence.js';

/** The props of `HeraldProvider`. */
export interface HeraldProviderProps<TRouter extends AnyRouter> {
  /** From `createHeraldClient<AppRouter>(...)`. The app owns it (and closes it). */
  readonly client: HeraldClient<TRouter>;
  /** TanStack Query's cache for queries and mutations; the provider also renders its `QueryClientProvider`. */
  readonly queryClient: QueryClient;
  /** The app below the provider. */
  readonly children?: ReactNode;
}

/** What `createHeraldReact<AppRouter>()` returns: the provider and the hooks, typed by the router. */
export interface HeraldReact<TRouter extends AnyRouter> {
  /** Provides the client to the hooks below, tRPC's `TRPCProvider` and TanStack Query's `QueryClientProvider`. */
  HeraldProvider(props: HeraldProviderProps<TRouter>): ReactElement;
  /** tRPC's options proxy: `useQuery(trpc.chat.history.queryOptions({ room }))`, `useMutation(trpc.chat.send.mutationOptions())`. */
  useTRPC(): TRPCOptionsProxy<TRouter>;
  /** The typed tRPC client, for imperative calls. */
  useTRPCClient(): TRPCClient<TRouter>;
  /** The Herald client given to the provider. */
  useHeraldClient(): HeraldClient<TRouter>;
  /** The live connection state: `connecting`, `open`, `reconnecting` (with `attempt`) or `closed`. */
  useConnectionState(): ConnectionState;
  /** The client's outbox (with `persistence`): pending and failed mutations, retry and discard. See `useOutboxOf`. */
  useOutbox(): OutboxState;
  /** See `useChannel`. */
  useChannel: typeof useChannel;
  /** See `usePresence`. */
  usePresence: typeof usePresence;
  /** See `useLiveQuery`: keeps a query's cache entry current from its live form. */
  useLiveQuery: typeof useLiveQuery;
}

/**
 * React bindings typed by the app's router, built on `@trpc/tanstack-react-query`.
 * Call it once per app, at module level:
 *
 * ```tsx
 * export const { HeraldProvider, useTRPC, useConnectionState, useChannel, usePresence } = createHeraldReact<AppRouter>();
 *
 * const client = createHeraldClient<AppRouter>({ url });
 * <HeraldProvider client={client} queryClient={new QueryClient()}><App /></HeraldProvider>
 * ```
 */
export function createHeraldReact<TRouter extends AnyRouter>(): HeraldReact<TRouter> {
  const trpc = createTRPCContext<TRouter>();
  const HeraldContext = createContext<HeraldClient<TRouter> | null>(null);
  HeraldContext.displayName = 'HeraldContext';

  function HeraldProvider({ client, queryClient, children }: HeraldProviderProps<TRouter>): ReactElement {
    return (
      <HeraldContext.Provider value={client}>
        <QueryClientProvider client={queryClient}>
          <trpc.TRPCProvider trpcClient={client.trpc} queryClient={queryClient}>
            {children}
          </trpc.TRPCProvider>
        </QueryClientProvider>
      </HeraldContext.Provider>
    );
  }

  function useHeraldClient(): HeraldClient<TRouter> {
    const client = useContext(HeraldContext);
    if (!client) throw new Error('Herald hooks must be used inside <HeraldProvider client={...}>');
    return client;
  }

  function useConnectionState(): ConnectionState {
    return useConnectionStateOf(useHeraldClient().connection);
  }

  function useOutbox(): OutboxState {
    return useOutboxOf(useHeraldClient().outbox);
  }

  return {
    HeraldProvider,
    useTRPC: trpc.useTRPC,
    useTRPCClient: trpc.useTRPCClient,
    useHeraldClient,
    useConnectionState,
    useOutbox,
    useChannel,
    usePresence,
    useLiveQuery,
  };
}
