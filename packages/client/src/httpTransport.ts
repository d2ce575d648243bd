import type { HttpSessionSettings } from './httpSession.js';
import type { EventSourceClass } from './options.js';
import type { Session, SessionHandlers } from './session.js';
import type { TransportChooser, TransportMode } from './transportChooser.js';

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
  /** The runtime's EventSource class: the browser's own; in Node, the `eventsource` package's (loaded on first use). */
  platformEventSource(): Promise<EventSourceClass>;
  /** Picks the transport of each attempt for `http` and `auto` (a client without this transport always dials WebSockets). */
  chooser(mode: TransportMode, fallbackAfterFailures: number): TransportChooser;
}
