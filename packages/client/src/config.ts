import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { platformWebSocket } from '#platform';
import { newIdempotencyKey } from './calls/idempotencyKey.js';
import type { TrackerSettings } from './calls/requestTracker.js';
import type { ClientTracing } from './calls/tracing.js';
import { fullJitterBackoff } from './connection/backoff.js';
import type { ConnectionStateListener } from './connection/connectionState.js';
import type { HttpConfig, HttpTransportInternals } from './connection/httpTransport.js';
import type { ConnectionSettings } from './connection/reconnectingConnection.js';
import type { TransportMode } from './connection/transportChooser.js';
import { clientDefaults, type HeraldClientOptions, type HttpTransport } from './options.js';
import type { HeraldPersistence } from './persistence.js';
import { httpUrlOf } from './sessions/urls.js';

/**
 * Everything `createHeraldClient` runs on, resolved once from its options
 * (defaults merged, values checked): the request tracker, the connection and
 * its sessions read these settings and never the options, so no two places
 * can disagree on a default.
 */
export interface ClientConfig {
  readonly tracker: TrackerSettings;
  readonly connection: ConnectionSettings;
  readonly onStateChange: ConnectionStateListener | null;
  readonly persistence: HeraldPersistence | null;
}

/** Resolves `createHeraldClient`'s options; throws a `TypeError` saying what to do on a misuse. */
export function resolveClientConfig(options: HeraldClientOptions): ClientConfig {
  const transport = options.transport ?? clientDefaults.transport;
  checkTransport(transport, options.http);
  const encoding = options.encoding ?? clientDefaults.encoding;
  if (encoding !== 'json' && encoding !== 'msgpack') {
    throw new TypeError(`createHeraldClient: encoding must be 'json' or 'msgpack', got ${JSON.stringify(encoding)}`);
  }
  const urls = typeof options.url === 'string' ? [options.url] : options.url;
  const heartbeat = { ...clientDefaults.heartbeat, ...options.heartbeat };
  const offlineQueue = { ...clientDefaults.offlineQueue, ...options.offlineQueue };
  const connectTimeoutMs = options.connectTimeoutMs ?? clientDefaults.connectTimeoutMs;
  const onError = options.onError ?? warn;
  return {
    tracker: {
      maxQueued: offlineQueue.maxSize,
      maxQueuedAgeMs: offlineQueue.maxAgeMs,
      callTimeoutMs: callTimeoutMsOf(options.callTimeoutMs),
      retryMutations: options.retryMutations ?? clientDefaults.retryMutations,
      newKey: newIdempotencyKey,
      onError,
      tracing: tracingOf(options.tracing),
    },
    connection: {
      urls,
      http: transport === 'websocket' ? null : httpConfig(transport, options, urls),
      connectionParams: options.connectionParams ?? null,
      WebSocket: options.WebSocket ?? platformWebSocket({ connectTimeoutMs }),
      retryDelayMs: fullJitterBackoff(options.backoff),
      pingIntervalMs: heartbeat.pingIntervalMs,
      pongTimeoutMs: heartbeat.pongTimeoutMs,
      connectTimeoutMs,
      maxCallsPerFrame: Math.max(1, Math.floor(options.maxCallsPerFrame ?? clientDefaults.maxCallsPerFrame)),
      msgpack: encoding === 'msgpack',
      onRefreshError: options.onRefreshError ?? warn,
      onError,
    },
    onStateChange: options.onStateChange ?? null,
    persistence: options.persistence ?? null,
  };
}

function httpConfig(mode: 'http' | 'auto', options: HeraldClientOptions, urls: readonly string[]): HttpConfig {
  const fallback = { ...clientDefaults.httpFallback, ...options.httpFallback };
  const { httpUrl } = options;
  return {
    transport: options.http as HttpTransportInternals,
    mode,
    urls: httpUrl === undefined ? urls.map(httpUrlOf) : typeof httpUrl === 'string' ? [httpUrl] : httpUrl,
    afterFailures: Math.max(1, fallback.afterFailures),
    upgradeProbeIntervalMs: fallback.upgradeProbeIntervalMs,
    EventSource: options.EventSource ?? null,
    fetch: options.fetch,
    connectionParams: options.connectionParams ?? null,
  };
}

/** `tracing`: none when absent; anything but a `ClientTracing` (`openTelemetry()` from `@herald/client/otel`) is a misuse. */
function tracingOf(value: ClientTracing | undefined): ClientTracing | null {
  if (value === undefined) return null;
  if (typeof value !== 'object' || value === null || typeof (value as { startCall?: unknown }).startCall !== 'function') {
    throw new TypeError("createHeraldClient: tracing must be what openTelemetry() from '@herald/client/otel' returns (or leave it out)");
  }
  return value;
}

/** `callTimeoutMs`: the default when absent, null when turned off; a bound that is not a positive number is a misuse. */
function callTimeoutMsOf(value: number | null | undefined): number | null {
  if (value === undefined) return clientDefaults.callTimeoutMs;
  if (value === null) return null;
  if (!(value > 0)) throw new TypeError(`createHeraldClient: callTimeoutMs must be a positive number of ms, or null for no bound; got ${String(value)}`);
  return value;
}

/** The default of `onError` and `onRefreshError`. */
function warn(error: TRPCClientError<AnyRouter>): void {
  console.warn(`[herald] ${error.message}`);
}

/** Fails at once, saying what to do, when `transport` is unknown or needs the HTTP transport and was not given it. */
function checkTransport(transport: unknown, http: HttpTransport | undefined): asserts transport is TransportMode {
  if (transport !== 'websocket' && transport !== 'http' && transport !== 'auto') {
    throw new TypeError(`createHeraldClient: transport must be 'websocket', 'http' or 'auto', got ${JSON.stringify(transport)}`);
  }
  if (transport !== 'websocket' && (typeof http !== 'object' || http === null || http.transport !== 'http')) {
    throw new TypeError(
      `createHeraldClient: transport '${transport}' needs the HTTP transport: import { httpTransport } from '@herald/client/http' and pass createHeraldClient({ ..., transport: '${transport}', http: httpTransport })`,
    );
  }
}
