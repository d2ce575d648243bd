import { useEffect, useState, useSyncExternalStore } from 'react';
import { createHeraldClient, type ConnectionState, type HeraldClient } from '@herald/client';
import type { AdminRouter, ClusterView } from '@herald/server';
import type { inferRouterOutputs } from '@trpc/server';

/** The admin router's WebSocket: `ws` beside the page (the page is served at `${admin.path}/`). */
export function adminSocketUrl(location: Location): string {
  const url = new URL('ws', location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** One point of the charts: the cluster at one interval (the server's `ClusterSample`). */
export type Sample = inferRouterOutputs<AdminRouter>['history'][number];

/** How far back the charts reach: the server keeps this much (`CHART_WINDOW_MS`), and so does the page. */
export const CHART_WINDOW_MS = 15 * 60_000;

/** `kept` and `more` as one series: each interval once, oldest first, the last `CHART_WINDOW_MS` only. */
export function mergeSamples(kept: readonly Sample[], more: readonly Sample[]): Sample[] {
  const byAt = new Map<number, Sample>();
  for (const sample of [...kept, ...more]) byAt.set(sample.at, sample);
  const merged = [...byAt.values()].sort((a, b) => a.at - b.at);
  const newest = merged.at(-1)?.at ?? 0;
  return merged.filter((sample) => newest - sample.at <= CHART_WINDOW_MS);
}

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
    eventLoopDelayP99Ms: Math.max(0, ...view.nodes.map((node) => node.eventLoopDelayMs.p99)),
    rssBytes: Math.max(0, ...view.nodes.map((node) => node.memory.rssBytes)),
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
        setSamples((kept) => mergeSamples(kept, [sampleOf(next)]));
      },
    });
    // The 15 minutes before the page opened, kept by the server: the charts start full.
    client.trpc.history
      .query()
      .then((history) => setSamples((kept) => mergeSamples(history, kept)))
      .catch((error: unknown) => console.warn('[admin] could not load the chart history', error));
    return () => {
      subscription.unsubscribe();
    };
  }, [client]);

  useEffect(() => () => void client.close(), [client]);

  return { client, state, view, samples };
}
