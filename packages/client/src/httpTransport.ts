import type { HttpSessionSettings } from './httpSession.js';
import type { EventSourceClass } from './options.js';
import type { Session, SessionHandlers } from './session.js';
import type { TransportChooser, TransportMode } from './transportChooser.js';
import type { ProbeHost, UpgradeProbe } from './upgradeProbe.js';

/**
 * The HTTP fallback for `createHeraldClient`, as `@herald/client/http`
 * exports it (`httpTransport`): pass it as the `http` option with
 * `transport: 'http'` or `'auto'`. It lives in an entry of its own so that an
 * app on `transport: 'websocket'` never has it (or tRPC's HTTP links) in its
 * bundle.
 */
export interface HttpTransport {
  /** Says what this is; the rest is the client's business. */
  readonly transport: 'http';
}

/** What the client calls on the `HttpTransport` it was given (`@herald/client/http` builds it). */
export interface HttpTransportInternals extends HttpTransport {
  /** Dials an HTTP session (see `HttpSession`). */
  dial(url: string, settings: HttpSessionSettings, handlers: SessionHandlers): Session;
  /** The pieces of one connection that only `http` and `auto` need (a client without this transport always dials WebSockets). */
  connectionParts(settings: HttpConnectionSettings, host: ProbeHost): HttpConnectionParts;
}

export interface HttpConnectionSettings {
  readonly transport: TransportMode;
  /** `auto`: failed upgrades in a row before HTTP is tried. */
  readonly fallbackAfterFailures: number;
  /** `auto` on HTTP: how often a WebSocket upgrade is tried again. */
  readonly upgradeProbeIntervalMs: number;
  /** The app's EventSource class; the platform's when undefined. */
  readonly EventSource: EventSourceClass | undefined;
}

/** What a connection with the HTTP transport uses of it. */
export interface HttpConnectionParts {
  /** Picks each attempt's transport. */
  readonly chooser: TransportChooser;
  /** `auto`: the upgrade probe; null for `http`. */
  readonly probe: UpgradeProbe | null;
  /** The EventSource class HTTP sessions use: the app's, else the platform's (which in Node loads the `eventsource` package once; a failed load is tried again). */
  eventSource(): Promise<EventSourceClass>;
}
