import { timingSafeEqual } from 'node:crypto';
import {
  createHerald,
  createHeraldServer,
  type Broker,
  type Herald,
  type HeraldHandlerOptions,
  type HeraldServer,
  type HeraldServerOptions,
} from '@herald/server';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createTokenIssuer, DEFAULT_TOKEN_TTL_S, randomSecret, type TokenIssuer } from './auth.js';
import { createChatRouter, type AppRouter, type ChatContext } from './router.js';
import type { User } from './schemas.js';
import { staticAppHandler } from './static.js';

/** Server settings passed through as they are (see the README's server options). */
export type ChatServerTuning = Pick<
  HeraldServerOptions<never, never>,
  'limits' | 'allowedOrigins' | 'trustProxy' | 'tls' | 'compression' | 'logger' | 'metrics' | 'drainTimeoutMs' | 'closeTimeoutMs' | 'auth'
>;

/** What the chat app is made of, wherever it is served (`createChatApp`). */
export interface ChatAppOptions {
  /** @default the in-memory broker */
  broker?: Broker;
  /** Token signing secret, shared by every node (at least 32 bytes). @default a random one, good for this server only */
  authSecret?: string;
  /**
   * How long a token from `auth.login` or `auth.refresh` is good for, in
   * seconds. Connections are trusted until then (plus the server's
   * `auth.expiryGraceMs`); Herald's client refreshes in-band before.
   * @default 900 (15 minutes)
   */
  tokenTtlSeconds?: number;
  historySize?: number;
  nodeId?: string;
}

/**
 * The chat app without a server: its Herald, router and tokens, and the
 * options any Herald server or handler serves it with
 * (`createHeraldServer`, `attachHerald`, `createHeraldHandler`).
 */
export interface ChatApp {
  readonly herald: Herald;
  readonly router: AppRouter;
  readonly tokens: TokenIssuer;
  /** The app's part of Herald's options: its router, its `herald`, `authenticate` (the demo's tokens) and `createContext`. */
  readonly heraldOptions: Pick<HeraldHandlerOptions<AppRouter, User>, 'router' | 'herald' | 'authenticate' | 'createContext'>;
  /** Closes the app's Herald (and its broker); close the server first. */
  close(): Promise<void>;
}

/** Builds the demo chat app (the contract of docs/demo-api.md), ready to be served. */
export function createChatApp(options: ChatAppOptions = {}): ChatApp {
  const herald = createHerald({
    ...(options.broker ? { broker: options.broker } : {}),
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
  });
  const tokens = createTokenIssuer(options.authSecret ?? randomSecret(), options.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_S);
  const router = createChatRouter({ herald, tokens, startedAt: Date.now(), ...(options.historySize ? { historySize: options.historySize } : {}) });
  return {
    herald,
    router,
    tokens,
    heraldOptions: {
      router,
      herald,
      // A bad token is refused at connect (UNAUTHORIZED, close 4001); no token is an anonymous connection.
      // A good one is trusted until its `exp` (plus the grace), or longer when the client refreshes in-band.
      authenticate: tokens.authenticate,
      createContext: ({ user }): ChatContext => ({ user }),
    },
    close: () => herald.close(),
  };
}

export interface ChatServerOptions extends ChatServerTuning, ChatAppOptions {
  /** @default 8787 */
  port?: number;
  host?: string;
  /** Heartbeat settings, passed to the server. */
  heartbeat?: { pingIntervalMs?: number; pongTimeoutMs?: number };
  /**
   * A built web app (a folder with `index.html`, e.g. `examples/chat-web/dist`)
   * to serve at `/`, with `index.html` for client-side routes. Throws at start
   * when the folder has no `index.html`. @default none: HTTP answers only health checks
   */
  staticDir?: string;
  /**
   * Turns the admin page on at `/admin` (its router at `/admin/ws`): the
   * token its "Admin token" field must be given. @default none: the admin page is off
   */
  adminToken?: string;
}

export interface ChatServer {
  readonly server: HeraldServer;
  /** Closes the server, then the broker. */
  close(): Promise<void>;
}

/** Starts the demo chat app: the contract router on a Herald server. */
export async function startChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  // First, so a bad folder fails before anything is started.
  const handleHttp = options.staticDir ? staticAppHandler(options.staticDir) : undefined;
  const app = createChatApp(options);
  // Herald's metrics in a registry of the app's own, with the process figures (memory, event-loop
  // delay, CPU, uptime) beside them for the Grafana dashboard (deploy/grafana).
  const registry = options.metrics === false ? null : new Registry();
  if (registry) collectDefaultMetrics({ register: registry });
  const server = await createHeraldServer({
    ...app.heraldOptions,
    port: options.port ?? 8787,
    ...(options.host ? { host: options.host } : {}),
    ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}),
    ...(handleHttp ? { handleHttp } : {}),
    ...tuningOf(options),
    ...(registry ? { metrics: { ...options.metrics, registry } } : {}),
    ...(options.adminToken ? { admin: { path: '/admin', authenticate: sameSecret(options.adminToken) } } : {}),
  });

  return {
    server,
    async close() {
      await server.close();
      await app.close();
    },
  };
}

/** Compares a presented token with the secret in constant time. */
function sameSecret(secret: string): (token: string) => boolean {
  const wanted = Buffer.from(secret);
  return (token) => {
    const given = Buffer.from(token);
    return given.length === wanted.length && timingSafeEqual(given, wanted);
  };
}

function tuningOf(options: ChatServerOptions): ChatServerTuning {
  const { limits, allowedOrigins, trustProxy, tls, compression, logger, metrics, drainTimeoutMs, closeTimeoutMs, auth } = options;
  const tuning: ChatServerTuning = { limits, allowedOrigins, trustProxy, tls, compression, logger, metrics, drainTimeoutMs, closeTimeoutMs, auth };
  // Unset fields stay unset, so the server's defaults apply.
  for (const key of Object.keys(tuning) as (keyof ChatServerTuning)[]) if (tuning[key] === undefined) delete tuning[key];
  return tuning;
}
