import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { TRPCError } from '@trpc/server';
import type Sirv from 'sirv';
import type { ServerConfig, ResolvedAdmin } from '../config.js';
import { HeraldError } from '../errors.js';
import type { Herald } from '../herald.js';
import { heraldInternals } from '../herald.js';
import { ServerMetrics } from '../observability/metrics.js';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { isFetchRequest, type HeraldRequest } from '../transport/requestHead.js';
import { createCallPath } from '../callPath.js';
import type { ConnectionParams } from '../transport/admission.js';
import { clientAddress } from '../transport/clientAddress.js';
import type { RequestGate } from '../transport/gate.js';
import type { ConnectionSummary, LookupFields } from '../ws/summary.js';
import { ConnectionHandler } from '../ws/handler.js';
import { ClusterStats } from './clusterStats.js';
import { ConnectionLookups } from './lookups.js';
import { NodeStats } from './nodeStats.js';
import { readChannelDetail } from './channelDetail.js';
import { createAdminRouter, type AdminRouter, type AdminRouterDeps } from './router.js';

/**
 * The prebuilt page: `packages/server/dist-admin/`, two levels up from this
 * module both as source (`src/admin/`) and as built code (`dist/admin/`).
 * Resolved when the admin option is on, not on import: a server imported
 * under a DOM test environment has no `file:` module URL.
 */
export function adminPageDir(): string {
  return fileURLToPath(new URL('../../dist-admin/', import.meta.url));
}

/** The page's Content Security Policy: its own files, and connections to this origin only. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** What the admin endpoint reads of the server it is part of. */
export interface AdminSources {
  readonly nodeId: string;
  readonly startedAt: number;
  readonly herald: Herald | undefined;
  readonly metrics: ServerMetrics;
  readonly connectionCount: () => number;
  readonly isDraining: () => boolean;
  readonly describeConnections: (matches: (fields: LookupFields) => boolean, limit: number) => ConnectionSummary[];
  readonly revoke: (userKey: string, reason: string) => Promise<void>;
}

type StaticHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/**
 * The admin page of one server (`admin` option): its static files at
 * `path/`, its router on a WebSocket of its own at `path/ws` (a second
 * `ConnectionHandler` with the admin router and `admin.authenticate`, so the
 * app's origin policy, limits per user and metrics do not apply to it), the
 * cluster figures as JSON at `path/api/cluster` for scripts, and this
 * node's part of the cluster figures on the broker.
 */
export class AdminEndpoint {
  private readonly socketPath: string;
  private readonly apiPath: string;
  private readonly handler: ConnectionHandler<AdminRouter>;
  private readonly gate: RequestGate;

  private constructor(
    private readonly config: ServerConfig,
    private readonly admin: ResolvedAdmin,
    private readonly cluster: ClusterStats,
    private readonly lookups: ConnectionLookups,
    channel: AdminRouterDeps['channel'],
    private readonly serveStatic: StaticHandler | null,
    revoke: AdminSources['revoke'],
  ) {
    this.socketPath = `${admin.path}/ws`;
    this.apiPath = `${admin.path}/api/cluster`;
    const router = createAdminRouter({ cluster, lookups, channel, revoke });
    // The same call path as the app's doors, with the admin router and its own authentication.
    const adminConfig: ServerConfig<AdminRouter> = {
      ...config,
      router,
      // Credentials travel in the connection params, never in cookies, so no page of another origin can use them unasked.
      originAllowed: null,
      createContext: () => ({}),
      authenticate: (params, req) => this.authenticate(params, req),
      userKey: () => null,
      report: (error, type, errorPath) => config.report(error, `admin.${type}`, errorPath),
    };
    const { gate, runner } = createCallPath(adminConfig, new ServerMetrics(null), () => false);
    this.gate = gate;
    this.handler = new ConnectionHandler(adminConfig, { path: this.socketPath, gate, runner, metrics: new ServerMetrics(null) });
  }

  static async start(config: ServerConfig, admin: ResolvedAdmin, sources: AdminSources): Promise<AdminEndpoint> {
    const internals = sources.herald ? heraldInternals(sources.herald) : undefined;
    const broker = sources.herald?.broker ?? null;
    const onError = (error: unknown) => config.logger.warn({ err: error, event: 'admin.error' }, 'admin figures: a broker message failed');
    const stats = new NodeStats({
      nodeId: sources.nodeId,
      startedAt: sources.startedAt,
      intervalMs: admin.intervalMs,
      connectionCount: sources.connectionCount,
      isDraining: sources.isDraining,
      metrics: sources.metrics,
      channels: internals ?? null,
    });
    const cluster = new ClusterStats(stats, broker, { nodeId: sources.nodeId, intervalMs: admin.intervalMs, onError });
    const lookups = new ConnectionLookups(broker, {
      nodeId: sources.nodeId,
      describe: sources.describeConnections,
      subscribers: (topic) => localSubscribers(internals?.fanout.topicStats() ?? [], topic),
      onError,
    });
    await lookups.start();
    await cluster.start();
    const serveStatic = await staticHandler();
    if (!serveStatic) {
      config.logger.warn({ event: 'admin.page_missing', dir: adminPageDir() }, 'the admin page is not built; its router is served, the page answers 503');
    }
    const channel = (topic: string, nodeIds: readonly string[], timeoutMs: number) =>
      readChannelDetail(topic, { broker, retentions: internals?.retentions ?? new Map(), subscribers: (wanted) => lookups.subscribers(wanted, nodeIds, timeoutMs) });
    return new AdminEndpoint(config, admin, cluster, lookups, channel, serveStatic, sources.revoke);
  }

  /** Whether an upgrade request is for the admin socket (its path). */
  servesUpgrade(req: IncomingMessage): boolean {
    return this.handler.serves(req);
  }

  /** Takes the upgrade when it is for the admin socket (true), else leaves it to the app's handler. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    if (!this.handler.serves(req)) return false;
    this.handler.handleUpgrade(req, socket, head);
    return true;
  }

  /** Answers requests under the admin path (true); anything else is the app's. */
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean {
    const path = pathOf(req);
    const { path: base } = this.admin;
    if (path === this.apiPath) {
      void this.answerApi(req, res);
      return true;
    }
    if (path === base) {
      res.writeHead(308, { location: `${base}/` });
      res.end();
      return true;
    }
    if (!path.startsWith(`${base}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED', message: 'The admin page answers GET and HEAD' });
      return true;
    }
    const serve = this.serveStatic;
    if (!serve) {
      sendJson(res, 503, { error: 'ADMIN_PAGE_NOT_BUILT', message: 'The admin page is not built: run `pnpm build` in the Herald repository (it builds packages/server/dist-admin)' });
      return true;
    }
    // sirv serves the page's directory as the root: strip the admin prefix.
    req.url = req.url?.slice(base.length) || '/';
    serve(req, res, () => sendJson(res, 404, { error: 'NOT_FOUND', message: `No admin page file for ${path}` }));
    return true;
  }

  /** Closes the admin sockets and stops publishing this node's figures. */
  async close(timeoutMs: number): Promise<void> {
    await this.cluster.stop();
    await this.lookups.stop();
    this.handler.broadcastReconnect();
    await this.handler.close(timeoutMs);
  }

  private async authenticate(params: ConnectionParams | null, req: HeraldRequest): Promise<{ admin: true }> {
    // The admin doors are Node's (its socket and its API); the fetch handler serves the app's router only.
    if (isFetchRequest(req)) throw new TRPCError({ code: 'FORBIDDEN', message: 'The admin page is served on Node doors only' });
    const token = params?.['token'];
    if (!token) {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: 'The admin page needs a token: send it as the connection params { token }' });
    }
    if (!(await this.admin.authenticate(token, req))) {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: 'The admin token is not valid; check it and sign in again' });
    }
    return { admin: true };
  }

  /** `GET path/api/cluster` with `Authorization: Bearer <token>`: the cluster figures as JSON. */
  private async answerApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ip = clientAddress(req, this.config.trustProxy);
    const refusal = this.gate.enter(req, ip);
    if (refusal) {
      const { error } = refusal;
      sendJson(res, getHTTPStatusCodeFromError(error), { error: error instanceof HeraldError ? error.heraldCode : error.code, message: error.message });
      return;
    }
    const header = req.headers.authorization ?? '';
    const token = /^Bearer (.+)$/i.exec(header)?.[1]?.trim();
    try {
      await this.gate.authenticate(token ? { token } : null, req, ip);
    } catch (error) {
      const message = error instanceof HeraldError ? error.message : 'Authentication failed';
      res.setHeader('www-authenticate', 'Bearer realm="herald-admin"');
      sendJson(res, 401, { error: 'UNAUTHORIZED', message: `${message} (send Authorization: Bearer <admin token>)` });
      return;
    }
    if (req.method !== 'GET') {
      sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED', message: `${this.apiPath} answers GET` });
      return;
    }
    sendJson(res, 200, await this.cluster.view());
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0] ?? '';
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** sirv over the prebuilt page, or null when it is not built. sirv lists the directory once, so no path reaches outside it. */
async function staticHandler(): Promise<StaticHandler | null> {
  if (!existsSync(`${adminPageDir()}index.html`)) return null;
  const { default: sirv } = await import('sirv');
  try {
    return listed(sirv);
  } catch {
    // The directory went away while it was listed (a rebuild of the page): served as not built.
    return null;
  }
}

function listed(sirv: typeof Sirv): StaticHandler {
  return sirv(adminPageDir(), {
    dev: false,
    etag: true,
    dotfiles: false,
    setHeaders(res, pathname) {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('Cache-Control', pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      res.setHeader('X-Frame-Options', 'DENY');
    },
  });
}

/** The local subscribers of `topic` among a fan-out's topics (0 when it has none here). */
function localSubscribers(topics: Iterable<{ readonly topic: string; readonly subscribers: number }>, topic: string): number {
  for (const figures of topics) if (figures.topic === topic) return figures.subscribers;
  return 0;
}
