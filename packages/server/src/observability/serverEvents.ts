/**
 * The rare events of a server an operator wants listed (the admin page's
 * event log): connections admitted, refusals by reason, revocations and
 * slow-consumer closes. Doors report them here; nothing is kept unless a
 * listener (the admin page's `NodeStats`) is set, so a server without the
 * admin page pays one null check per event.
 */

/** What happened. */
export type ServerEventKind = 'connect' | 'refusal' | 'revocation' | 'slow-consumer';

/** How a client is connected: a WebSocket, or an HTTP event stream (Server-Sent Events). */
export type ConnectionTransport = 'websocket' | 'http-stream';

/** One event, as the admin page's log lists it. */
export interface ServerEvent {
  /** When it happened, in ms since the epoch (the node's clock). */
  readonly at: number;
  readonly kind: ServerEventKind;
  /** The refusal's reason (`RefusalReason`), or null for a connect. */
  readonly reason: string | null;
  readonly connectionId: string | null;
  readonly userKey: string | null;
  readonly address: string | null;
  readonly transport: ConnectionTransport | null;
}

/** Where a server's events go: one listener at most. */
export class ServerEvents {
  private listener: ((event: ServerEvent) => void) | null = null;

  /** Sends every event from now on to `listener` (replacing any other); returns how to stop. */
  listen(listener: (event: ServerEvent) => void): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = null;
    };
  }

  /** Reports an event; nothing is built when no one listens. */
  emit(build: () => Omit<ServerEvent, 'at'>): void {
    const listener = this.listener;
    if (listener) listener({ at: Date.now(), ...build() });
  }
}
