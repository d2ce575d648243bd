import type { EventSourceClass, HeraldClientOptions } from './options.js';
import type { CommonSessionSettings, Session, SessionHandlers } from './session.js';
import type { TransportChooser } from './transportChooser.js';
import type { ProbeHost, UpgradeProbe } from './upgradeProbe.js';
import type { UrlRotation } from './urlRotation.js';

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
  /**
   * The pieces of one connection that only `http` and `auto` need, from the
   * client's options (a client without this transport always dials WebSockets).
   * `urls`: the client's WebSocket URLs, whose HTTP endpoints are used when
   * `httpUrl` is not given.
   */
  connectionParts(options: HeraldClientOptions, urls: readonly string[], host: ProbeHost): HttpConnectionParts;
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
