import { initTRPC } from '@trpc/server';
import { transformer } from '@herald/shared';
import { z } from 'zod';
import { heraldErrorFormatter } from '../errors.js';
import type { ChannelDetail } from './channelDetail.js';
import type { ClusterSample, ClusterView, NodeSnapshot } from './figures.js';
import type { FoundConnection } from './lookups.js';

/** How long a lookup waits for the other nodes' answers. */
const LOOKUP_TIMEOUT_MS = 2_000;

/**
 * What the admin router runs on (`ClusterStats` and `ConnectionLookups`), as
 * the few methods it calls: the router's type is public (`AdminRouter`), and
 * these keep the classes, and what they are built on, out of it.
 */
export interface AdminRouterDeps {
  readonly cluster: {
    /** Calls `listener` after every interval; returns how to stop. */
    watch(listener: () => void): () => void;
    view(): Promise<ClusterView>;
    snapshots(): readonly NodeSnapshot[];
    /** The figures of the last `CHART_WINDOW_MS`, oldest first. */
    samples(): ClusterSample[];
  };
  readonly lookups: { find(query: string, nodeIds: readonly string[], timeoutMs: number): Promise<FoundConnection[]> };
  /** One topic's detail (`readChannelDetail`), its subscribers asked of the nodes `nodeIds`. */
  readonly channel: (topic: string, nodeIds: readonly string[], timeoutMs: number) => Promise<ChannelDetail>;
  /** `server.disconnectUser`: through the broker, on every node. */
  readonly revoke: (userKey: string, reason: string) => Promise<void>;
}

// Error answers never carry stack traces here, whatever NODE_ENV says.
const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter, isDev: false });

/**
 * The admin page's router, served on its own WebSocket (`${admin.path}/ws`)
 * to callers that passed `admin.authenticate`: the cluster's figures as a
 * stream, one interval apart, connection lookup, channel detail and revoke.
 */
export function createAdminRouter(deps: AdminRouterDeps) {
  return t.router({
    /** The cluster's figures now, then again after every interval. */
    cluster: t.procedure.subscription(async function* ({ signal }): AsyncGenerator<ClusterView, void, unknown> {
      let wake: (() => void) | null = null;
      let ticked = true;
      const stopWatching = deps.cluster.watch(() => {
        ticked = true;
        wake?.();
      });
      const aborted = () => wake?.();
      signal?.addEventListener('abort', aborted);
      try {
        while (!signal?.aborted) {
          if (!ticked) {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            wake = null;
            continue;
          }
          ticked = false;
          yield await deps.cluster.view();
        }
      } finally {
        stopWatching();
        signal?.removeEventListener('abort', aborted);
      }
    }),
    /** The cluster's samples of the last 15 minutes (`CHART_WINDOW_MS`), oldest first: the charts' history before the page opened. */
    history: t.procedure.query((): ClusterSample[] => deps.cluster.samples()),
    /**
     * Connections on every live node by id or user key, or a prefix of either
     * (`c1`, `u_3f`, `ann`), or any part of a display name (`admin.displayName`);
     * `<nodeId>/` lists one node's, `*` everyone's (at most 50 per node;
     * `lookupMatcher`). WebSockets and HTTP event streams alike.
     */
    lookup: t.procedure
      .input(z.object({ query: z.string().trim().min(1).max(256) }))
      .query(({ input }): Promise<FoundConnection[]> => {
        const nodeIds = deps.cluster.snapshots().map((snapshot) => snapshot.nodeId);
        return deps.lookups.find(input.query, nodeIds, LOOKUP_TIMEOUT_MS);
      }),
    /** One topic (`<channel>:<key>`): subscribers per node, presence members, the newest messages of its history. */
    channel: t.procedure
      .input(z.object({ topic: z.string().trim().min(3).max(300).regex(/^[A-Za-z0-9_.-]+:/, 'a topic is <channel>:<key>, such as chat.room:general') }))
      .query(({ input }): Promise<ChannelDetail> => {
        const nodeIds = deps.cluster.snapshots().map((snapshot) => snapshot.nodeId);
        return deps.channel(input.topic, nodeIds, LOOKUP_TIMEOUT_MS);
      }),
    /** Ends the user's sessions on every node (`server.disconnectUser`). */
    revoke: t.procedure
      .input(z.object({ userKey: z.string().min(1).max(256), reason: z.string().max(123).optional() }))
      .mutation(async ({ input }) => {
        await deps.revoke(input.userKey, input.reason ?? 'revoked by an administrator');
        return { revoked: input.userKey };
      }),
  });
}

/** The admin router's type, for the admin page's client. */
export type AdminRouter = ReturnType<typeof createAdminRouter>;
