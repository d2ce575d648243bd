/**
 * What the platform entries (`#platform`: node.ts, browser.ts) and their
 * users share: the EventSource and WebSocket shapes the client relies on.
 */

/**
 * What the client needs of an EventSource instance; the browser's and the
 * `eventsource` package's have it.
 */
export interface EventSourceInstance {
  readonly CLOSED: number;
  readonly CONNECTING: number;
  readonly OPEN: number;
  readonly readyState: number;
  addEventListener(type: string, listener: (event: object) => void): void;
  removeEventListener(type: string, listener: (event: object) => void): void;
  close(): void;
}

/**
 * An EventSource class (the `EventSource` option): the browser's own, the
 * `eventsource` package's, or any with the same shape. The client passes a
 * `fetch` in the second argument to a class other than the runtime's own.
 */
export type EventSourceClass = new (url: string, init?: { withCredentials?: boolean; fetch?: typeof globalThis.fetch }) => EventSourceInstance;

/** The HTTP answer that refused a WebSocket upgrade, as a platform's WebSocket class may expose it. */
export interface RefusedUpgrade {
  readonly status: number;
  /** `Retry-After` in ms, when the answer carried one in seconds. */
  readonly retryAfterMs: number | null;
  /** What the answer's body says (its JSON `message`, or its text), when it said something short; else null. */
  readonly hint: string | null;
}

export interface PlatformSocketOptions {
  /** Give up on an opening handshake after this long (a stalled network never answers). */
  readonly connectTimeoutMs: number;
}
