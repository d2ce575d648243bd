import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnyRouter } from '@trpc/server';
import { transformer } from '@herald/shared';
import type { Logger } from 'pino';
import { memoryIdempotencyStore } from './brokers/idempotency.js';
import type { Herald } from './herald.js';
import { defaultLogger } from './observability/logger.js';
import { serverDefaults, type AdminOptions, type CompressionOptions, type HeraldServerOptions, type MetricsRegistry } from './options.js';
import { defaultUserKey, type AdmissionSettings, type ErrorReporter } from './transport/admission.js';
import { originPolicy, type OriginCheck } from './transport/clientAddress.js';
import type { IdempotencySettings } from './calls/idempotentCall.js';

/**
 * Everything `createHeraldServer` runs on, resolved once from its options
 * (defaults merged, values checked) and frozen: the WebSocket and the HTTP
 * transports read this one object, so they share one idempotency store and
 * one set of limits.
 */
export interface ServerConfig<TRouter extends AnyRouter = AnyRouter> {
  /** The app's router as Herald serves it: its procedures, with `isDev` set from `development`. */
  readonly router: TRouter;
  readonly createContext: AdmissionSettings['createContext'];
  readonly authenticate: AdmissionSettings['authenticate'];
  readonly userKey: (user: unknown) => string | null;
  readonly herald: Herald | undefined;
  readonly port: number;
  readonly host: string | undefined;
  /** The WebSocket path. */
  readonly path: string;
  /** The HTTP prefix without a trailing slash, or null when HTTP is off. */
  readonly httpPath: string | null;
  readonly heartbeat: { readonly pingIntervalMs: number; readonly pongTimeoutMs: number };
  readonly limits: ResolvedLimits;
  /** The `allowedOrigins` check, or null when every origin may call. */
  readonly originAllowed: OriginCheck | null;
  readonly trustProxy: boolean;
  readonly corsCredentials: boolean;
  readonly tls: HeraldServerOptions<TRouter>['tls'];
  readonly compression: Readonly<Required<CompressionOptions>> | null;
  readonly drainTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly logger: Logger;
  /** Where metrics go (`registry` undefined: one of the server's own), or null with `metrics: false`. */
  readonly metrics: { readonly registry: MetricsRegistry | undefined; readonly path: string | false; readonly prefix: string } | null;
  readonly handleHttp: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  /** Whether `/healthz` and `/readyz` are served. */
  readonly health: boolean;
  readonly idempotency: IdempotencySettings;
  readonly auth: {
    readonly expiryGraceMs: number;
    /** Failed authentications per address, or null for no limit. */
    readonly failedAttempts: { readonly perSecond: number; readonly burst: number } | null;
    readonly revocationTtlMs: number;
  };
  /** Whether error answers carry stack traces. */
  readonly development: boolean;
  readonly onError: HeraldServerOptions<TRouter>['onError'];
  /** `onError`, wrapped once: what every part of the server reports errors through. */
  readonly report: ErrorReporter;
  /** The admin page, or null when it is off. */
  readonly admin: ResolvedAdmin | null;
}

export interface ResolvedAdmin {
  /** The page's path, without a trailing slash. */
  readonly path: string;
  readonly authenticate: AdminOptions['authenticate'];
  readonly intervalMs: number;
  /** `admin.displayName`, made safe: a throw, or anything but a non-blank string, is no name (null). */
  readonly displayNameOf: (ctx: unknown) => string | null;
}

export interface ResolvedLimits {
  readonly maxPayloadBytes: number;
  readonly maxSubscriptionsPerConnection: number;
  readonly maxBatchSize: number;
  readonly maxBufferedBytes: number;
  readonly connectionParamsTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxConnectionsPerUser: number;
  readonly maxHttpCallsPerIp: number;
  readonly httpWriteTimeoutMs: number;
  readonly maxHttpAnswerBytes: number;
  readonly maxHttpAnswerBytesPerIp: number;
  /** The request rate bucket, or null when `rate: false`. */
  readonly rate: { readonly perSecond: number; readonly burst: number } | null;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/** Merges `options` over `serverDefaults`, checks them, and freezes the result. */
export function resolveServerOptions<TRouter extends AnyRouter, TUser>(options: HeraldServerOptions<TRouter, TUser>): ServerConfig<TRouter> {
  checkRequired(options);
  const { rate, ...limits } = { ...serverDefaults.limits, ...options.limits };
  const httpPath = options.httpPath ?? serverDefaults.httpPath;
  if (httpPath !== false && (!httpPath.startsWith('/') || httpPath.length < 2)) {
    throw new TypeError(`httpPath must be a path like '/trpc', got '${httpPath}'`);
  }
  const compression =
    options.compression === true || typeof options.compression === 'object'
      ? { ...serverDefaults.compression, ...(options.compression === true ? {} : options.compression) }
      : null;
  const metrics = options.metrics === false ? null : { ...serverDefaults.metrics, ...options.metrics };
  const development = options.development ?? process.env['NODE_ENV'] === 'development';
  const failedAttempts = options.auth?.failedAttempts ?? {};
  // The app's own objects in it (router, logger, registry, store, herald, TLS
  // options) are not frozen: they are the app's, and some of them hold state.
  return Object.freeze({
    router: withDevelopmentMode(options.router, development),
    createContext: options.createContext as AdmissionSettings['createContext'],
    authenticate: options.authenticate as AdmissionSettings['authenticate'],
    userKey: (options.userKey as ((user: unknown) => string | null) | undefined) ?? defaultUserKey,
    herald: options.herald,
    port: options.port ?? serverDefaults.port,
    host: options.host,
    path: options.path ?? serverDefaults.path,
    httpPath: httpPath === false ? null : httpPath.replace(/\/+$/, ''),
    heartbeat: Object.freeze({ ...serverDefaults.heartbeat, ...options.heartbeat }),
    limits: Object.freeze({ ...limits, rate: rate === false ? null : Object.freeze({ ...serverDefaults.limits.rate, ...rate }) }),
    originAllowed: originPolicy(options.allowedOrigins, options.trustProxy ?? false),
    trustProxy: options.trustProxy ?? false,
    corsCredentials: options.corsCredentials ?? false,
    tls: options.tls,
    compression: compression && Object.freeze(compression),
    drainTimeoutMs: options.drainTimeoutMs ?? serverDefaults.drainTimeoutMs,
    closeTimeoutMs: options.closeTimeoutMs ?? serverDefaults.closeTimeoutMs,
    logger: options.logger ?? defaultLogger(),
    metrics: metrics ? Object.freeze({ registry: metrics.registry, path: metrics.path, prefix: metrics.prefix }) : null,
    handleHttp: options.handleHttp,
    health: options.health ?? serverDefaults.health,
    idempotency: Object.freeze({
      store: options.herald?.broker.idempotency ?? memoryIdempotencyStore(),
      ttlMs: options.idempotency?.ttlMs ?? serverDefaults.idempotency.ttlMs,
      waitTimeoutMs: options.idempotency?.waitTimeoutMs ?? serverDefaults.idempotency.waitTimeoutMs,
      scope: options.idempotency?.scope,
      maxRecordsPerCaller: options.idempotency?.maxRecordsPerCaller ?? serverDefaults.idempotency.maxRecordsPerCaller,
      maxRecordBytesPerCaller: options.idempotency?.maxRecordBytesPerCaller ?? serverDefaults.idempotency.maxRecordBytesPerCaller,
    }),
    auth: Object.freeze({
      expiryGraceMs: options.auth?.expiryGraceMs ?? serverDefaults.auth.expiryGraceMs,
      failedAttempts: failedAttempts === false ? null : Object.freeze({ ...serverDefaults.auth.failedAttempts, ...failedAttempts }),
      revocationTtlMs: options.auth?.revocationTtlMs ?? serverDefaults.auth.revocationTtlMs,
    }),
    development,
    onError: options.onError,
    report: reporterOf(options.onError),
    admin: resolveAdmin(options.admin),
  });
}

/** Every error the app should hear of goes to `onError` as an `Error`, with the call's type and path when there is one. */
function reporterOf(onError: HeraldServerOptions<AnyRouter>['onError']): ErrorReporter {
  if (!onError) return () => undefined;
  return (error, type, path) => onError({ error: error instanceof Error ? error : new Error(String(error)), path, type });
}

/** Longer display names are cut to this many characters on the admin page. */
const MAX_DISPLAY_NAME_LENGTH = 200;

function resolveAdmin<TContext>(admin: AdminOptions<TContext> | undefined): ResolvedAdmin | null {
  if (admin === undefined) return null;
  if (typeof admin !== 'object' || admin === null || typeof admin.authenticate !== 'function') {
    throw new TypeError(
      "createHeraldServer: admin needs authenticate, a function (token, req) => boolean; for example admin: { authenticate: (token) => safeEqual(token, process.env.ADMIN_TOKEN) }",
    );
  }
  const path = (admin.path ?? serverDefaults.admin.path).replace(/\/+$/, '');
  if (!path.startsWith('/') || path.length < 2) throw new TypeError(`admin.path must be a path like '/admin', got '${admin.path}'`);
  const intervalMs = admin.intervalMs ?? serverDefaults.admin.intervalMs;
  if (!Number.isFinite(intervalMs) || intervalMs < 100) throw new TypeError(`admin.intervalMs must be at least 100 (ms), got ${intervalMs}`);
  const displayName = admin.displayName as unknown as ((ctx: unknown) => unknown) | undefined;
  if (displayName !== undefined && typeof displayName !== 'function') {
    throw new TypeError('admin.displayName must be a function (ctx) => string naming the user of a connection; leave it out to show user keys only');
  }
  const displayNameOf = (ctx: unknown): string | null => {
    if (!displayName) return null;
    try {
      const name = displayName(ctx);
      return typeof name === 'string' && name.trim() !== '' ? name.trim().slice(0, MAX_DISPLAY_NAME_LENGTH) : null;
    } catch {
      return null;
    }
  };
  return Object.freeze({ path, authenticate: admin.authenticate, intervalMs, displayNameOf });
}

/**
 * What `createHeraldServer` cannot run without, checked before anything
 * starts: a misuse fails here with what to do instead of with a `TypeError`
 * deep inside, or (a router without Herald's transformer) with every answer
 * reaching Herald's client as `undefined`.
 */
function checkRequired(options: unknown): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createHeraldServer: options are missing; pass at least { router, createContext }');
  }
  const { router, createContext, authenticate, herald } = options as Record<string, unknown>;
  const def = typeof router === 'object' && router !== null ? (router as { _def?: { router?: unknown } })._def : undefined;
  if (def?.router !== true) {
    throw new TypeError(
      `createHeraldServer: router ${router === undefined ? 'is missing' : 'is not a tRPC router'}; pass the app's router, built with t.router({ ... }) where t = initTRPC.create({ transformer }) and transformer comes from '@herald/server'`,
    );
  }
  const routerTransformer = (router as AnyRouter)._def._config.transformer;
  if (routerTransformer.input !== transformer || routerTransformer.output !== transformer) {
    throw new TypeError(
      "createHeraldServer: the router does not use Herald's transformer, so Herald's client would read every answer as undefined; create it with initTRPC.create({ transformer }), importing transformer from '@herald/server'. If it already does, two copies of @herald/shared are installed: make it one (npm ls @herald/shared)",
    );
  }
  if (typeof createContext !== 'function') {
    throw new TypeError(
      `createHeraldServer: createContext ${createContext === undefined ? 'is missing' : 'must be a function'}; pass a function that builds each connection's context, for example createContext: ({ user }) => ({ user }), or () => ({}) when procedures need none`,
    );
  }
  if (authenticate !== undefined && typeof authenticate !== 'function') {
    throw new TypeError('createHeraldServer: authenticate must be a function (connectionParams, req) => user, or left out');
  }
  if (herald !== undefined && (typeof herald !== 'object' || herald === null || typeof (herald as { channel?: unknown }).channel !== 'function')) {
    throw new TypeError('createHeraldServer: herald must be what createHerald() returns, or left out');
  }
}

/**
 * The router with tRPC's `isDev` set to `development`, which decides
 * whether error shapes carry stack traces: a view sharing the router's
 * procedures, so the app's router object is left as it is. tRPC's own
 * default (`NODE_ENV !== 'production'`) would send stacks with file paths
 * to every client of a server started without NODE_ENV.
 */
function withDevelopmentMode<TRouter extends AnyRouter>(router: TRouter, development: boolean): TRouter {
  const config = router._def._config;
  if (config.isDev === development) return router;
  return { ...router, _def: { ...router._def, _config: { ...config, isDev: development } } };
}
