import { useEffect, useState, useSyncExternalStore } from 'react';
import { createHeraldClient, type ConnectionState, type HeraldClient } from '@herald/client';
import type { AdminRouter, ClusterView } from '@herald/server';

/** The admin router's WebSocket: `ws` beside the page (the page is served at `${admin.path}/`). */
export function adminSocketUrl(location: Location): string {
  const url = new URL('ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** One point of the rate charts. */
export interface Sample {
  readonly at: number;
  readonly connections: number;
  readonly published: number;
  readonly delivered: number;
  readonly refusals: number;
  readonly slowConsumerCloses: number;
  readonly reconnects: number;
}

/** Points kept per chart: two minutes at the default interval. */
export const SAMPLES_KEPT = 120;

export interface AdminLink {
  readonly client: HeraldClient<AdminRouter>;
  readonly state: ConnectionState;
  readonly view: ClusterView | null;
  readonly samples: readonly Sample[];
}

function sampleOf(view: ClusterView): Sample {
  const { rates } = view.totals;
  let refusals = 0;
  for (const perSecond of Object.values(rates.refusals)) refusals += perSecond;
  return {
    at: view.at,
    connections: view.totals.connections,
    published: rates.published,
    delivered: rates.delivered,
    refusals,
    slowConsumerCloses: rates.slowConsumerCloses,
    reconnects: rates.reconnects,
  };
}

/**
 * A Herald client on the admin socket with `token` as its connection
 * params, and the `cluster` stream it receives. The client reconnects by
 * itself (the page says "reconnecting" meanwhile) and resubscribes.
 */
export function useAdminLink(token: string): AdminLink {
  const [client] = useState(() =>
    createHeraldClient<AdminRouter>({ url: adminSocketUrl(window.location), connectionParams: { token } }),
  );
  const state = useSyncExternalStore(
    (notify) => client.connection.subscribe(notify),
    () => client.connection.current,
  );
  const [view, setView] = useState<ClusterView | null>(null);
  const [samples, setSamples] = useState<readonly Sample[]>([]);

  useEffect(() => {
    const subscription = client.trpc.cluster.subscribe(undefined, {
      onData: (next) => {
        setView(next);
        setSamples((kept) => [...kept.slice(-(SAMPLES_KEPT - 1)), sampleOf(next)]);
      },
    });
    return () => {
      subscription.unsubscribe();
    };
  }, [client]);

  useEffect(() => () => void client.close(), [client]);

  return { client, state, view, samples };
}
