import { timingSafeEqual } from 'node:crypto';
import type { HeraldClient } from '@herald/client';
import { createHeraldServer, type AdminRouter, type Broker, type ClusterView, type HeraldServer } from '@herald/server';
import { heraldClient } from '../clients.js';
import { recordSubscription } from '../recording.js';
import { createNumbersApp } from './numbers.js';
import { served, type Served } from './served.js';

/** `admin.authenticate` for one token, compared in constant time. */
export function tokenCheck(token: string): (given: string) => boolean {
  const wanted = Buffer.from(token);
  return (given) => {
    const bytes = Buffer.from(given);
    return bytes.length === wanted.length && timingSafeEqual(bytes, wanted);
  };
}

export interface AdminNodeOptions {
  readonly nodeId: string;
  /** The admin token. */
  readonly token: string;
  /** Shared by the nodes of a cluster; each node has a memory broker of its own without one. */
  readonly broker?: Broker;
  /** Whether closing the node closes its Herald and broker too (false for a broker shared by nodes that outlive it). */
  readonly closesBroker?: boolean;
  readonly intervalMs?: number;
  /** The page's names for user keys (`admin.displayName`). */
  readonly displayNames?: Readonly<Record<string, string>>;
  /** A user `authenticate` refuses (a refusal for the event log). */
  readonly refusedUser?: string;
  readonly allowedOrigins?: readonly string[];
}

export type AdminNode = Served<ReturnType<typeof createNumbersApp>>;

/**
 * A node of the numbers app with the admin page on: the `name` connection
 * param is the user and its key, and the context's `name`.
 */
export async function startAdminNode(options: AdminNodeOptions): Promise<AdminNode> {
  const app = createNumbersApp({ nodeId: options.nodeId, ...(options.broker ? { broker: options.broker } : {}) });
  const names = options.displayNames;
  const server = await createHeraldServer<typeof app.router, string>({
    router: app.router,
    herald: app.herald,
    port: 0,
    host: '127.0.0.1',
    authenticate: (params) => {
      const name = params?.['name'];
      if (name !== undefined && name === options.refusedUser) throw new Error(`${name} is not let in`);
      return name ?? null;
    },
    createContext: ({ connectionParams }) => ({ name: connectionParams?.['name'] ?? null }),
    admin: {
      authenticate: tokenCheck(options.token),
      intervalMs: options.intervalMs ?? 250,
      ...(names ? { displayName: (ctx: { name: string | null }) => (ctx.name ? (names[ctx.name] ?? null) : null) } : {}),
    },
    ...(options.allowedOrigins ? { allowedOrigins: options.allowedOrigins } : {}),
  });
  const node = served(app, server);
  return options.closesBroker === false ? { ...node, close: () => server.close() } : node;
}

/** An admin client on `server`'s admin socket, streaming `cluster`. */
export interface AdminWatch {
  readonly client: HeraldClient<AdminRouter>;
  /** Resolves with the newest view `accept` takes (within 10 s). */
  until(accept: (view: ClusterView) => boolean, label: string): Promise<ClusterView>;
  stop(): void;
}

/** Watches the `cluster` stream of `server`'s admin page with `token`. */
export function watchAdminCluster(server: HeraldServer, token: string): AdminWatch {
  const client = heraldClient<AdminRouter>(`${server.url.replace(/\/ws$/, '')}/admin/ws`, { token });
  const recording = recordSubscription<ClusterView>((handlers) => client.trpc.cluster.subscribe(undefined, handlers), { tracked: false });
  return {
    client,
    async until(accept, label) {
      let found: ClusterView | undefined;
      await recording.until(
        (events) => {
          const last = events.at(-1);
          if (last && accept(last)) found = last;
          return found !== undefined;
        },
        10_000,
        label,
      );
      if (!found) throw new Error(`no view: ${label}`);
      return found;
    },
    stop: () => recording.unsubscribe(),
  };
}
