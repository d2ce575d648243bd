import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AnyRouter } from '@trpc/server';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { memoryIdempotencyStore } from './brokers/idempotency.js';
import type { Herald } from './herald.js';
import { defaultLogger } from './observability/logger.js';
import { serverDefaults, type CompressionOptions, type HeraldServerOptions } from './options.js';
import { defaultUserKey, type AdmissionSettings } from './transport/admission.js';
import { originPolicy, type OriginCheck } from './transport/clientAddress.js';
import type { IdempotencySettings } from './transport/idempotentCall.js';

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
  readonly tls: HeraldServerOptions<TRouter>['tls'];
  readonly compression: Readonly<Required<CompressionOptions>> | null;
  readonly drainTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly logger: Logger;
  /** Where metrics go (`registry` undefined: one of the server's own), or null with `metrics: false`. */
  readonly metrics: { readonly registry: Registry | undefined; readonly path: string | false; readonly prefix: string } | null;
  readonly handleHttp: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  readonly idempotency: IdempotencySettings;
  readonly auth: {
    readonly expiryGraceMs: number;
    /** Failed authentications per address, or null for no limit. */
    readonly failedAttempts: { readonly perSecond: number; readonly burst: number } | null;
  };
  /** Whether error answers carry stack traces. */
  readonly development: boolean;
  readonly onError: HeraldServerOptions<TRouter>['onError'];
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
  /** The request rate bucket, or null when `rate: false`. */
  readonly rate: { readonly perSecond: number; readonly burst: number } | null;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/** Merges `options` over `serverDefaults`, checks them, and freezes the result. */
export function resolveServerOptions<TRouter extends AnyRouter, TUser>(options: HeraldServerOptions<TRouter, TUser>): ServerConfig<TRouter> {
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
    tls: options.tls,
    compression: compression && Object.freeze(compression),
    drainTimeoutMs: options.drainTimeoutMs ?? serverDefaults.drainTimeoutMs,
    closeTimeoutMs: options.closeTimeoutMs ?? serverDefaults.closeTimeoutMs,
    logger: options.logger ?? defaultLogger(),
    metrics: metrics ? Object.freeze({ registry: metrics.registry, path: metrics.path, prefix: metrics.prefix }) : null,
    handleHttp: options.handleHttp,
    idempotency: Object.freeze({
      store: options.herald?.broker.idempotency ?? memoryIdempotencyStore(),
      ttlMs: options.idempotency?.ttlMs ?? serverDefaults.idempotency.ttlMs,
      waitTimeoutMs: options.idempotency?.waitTimeoutMs ?? serverDefaults.idempotency.waitTimeoutMs,
      scope: options.idempotency?.scope,
    }),
    auth: Object.freeze({
      expiryGraceMs: options.auth?.expiryGraceMs ?? serverDefaults.auth.expiryGraceMs,
      failedAttempts: failedAttempts === false ? null : Object.freeze({ ...serverDefaults.auth.failedAttempts, ...failedAttempts }),
    }),
    development,
    onError: options.onError,
  });
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
