import type { ConnectionParamsOption, HttpTransport } from '../options.js';
import type { EventSourceClass } from '../platform/types.js';
import type { CommonSessionSettings, Session, SessionHandlers } from '../sessions/session.js';
import type { TransportChooser } from './transportChooser.js';
import type { ProbeHost, UpgradeProbe } from './upgradeProbe.js';
import type { UrlRotation } from './urlRotation.js';

/**
 * What the client calls on the `HttpTransport` it was given (`@herald/client/http`
 * builds it, http.ts): the public interface says only what it is.
 */
export interface HttpTransportInternals extends HttpTransport {
  /**
   * The pieces of one connection that only `http` and `auto` need, from the
   * client's resolved HTTP settings (a client without this transport always
   * dials WebSockets).
   */
  connectionParts(config: HttpConfig, host: ProbeHost): HttpConnectionParts;
}

/** The HTTP side of the client's resolved options (config.ts), for `transport` `http` or `auto`. */
export interface HttpConfig {
  readonly transport: HttpTransportInternals;
  readonly mode: 'http' | 'auto';
  /** The HTTP endpoints: `httpUrl`, else one beside each WebSocket URL. */
  readonly urls: readonly string[];
  /** `httpFallback.afterFailures`, at least 1. */
  readonly afterFailures: number;
  readonly upgradeProbeIntervalMs: number;
  /** The app's EventSource class; null: the platform's. */
  readonly EventSource: EventSourceClass | null;
  /** The app's `fetch`; undefined: the runtime's. */
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly connectionParams: ConnectionParamsOption;
}

/** What a connection with the HTTP transport uses of it. */
export interface HttpConnectionParts {
  /** Picks each attempt's transport. */
  readonly chooser: TransportChooser;
  /** `auto`: the upgrade probe; null for `http`. */
  readonly probe: UpgradeProbe | null;
  /** The HTTP endpoints (`http://host/trpc`), in rotation. */
  readonly urls: UrlRotation;
  /** The EventSource class HTTP sessions use: the app's, else the platform's (which in Node loads the `eventsource` package once; a failed load is tried again). */
  eventSource(): Promise<EventSourceClass>;
  /** Dials an HTTP session (see `HttpSession`) with what every session gets and the `EventSource` that `eventSource()` gave. */
  dial(url: string, common: CommonSessionSettings, EventSource: EventSourceClass, handlers: SessionHandlers): Session;
}
