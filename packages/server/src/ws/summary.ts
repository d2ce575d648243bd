/**
 * One connection as the admin page shows it (`Connection.describe`). A file
 * of its own, without the socket's types, so the admin router's public type
 * (`AdminRouter`) does not reach `ws`'s.
 */
import type { ConnectionTransport } from '../observability/serverEvents.js';

export interface ConnectionSummary {
  /** `c<number>` for a WebSocket, `h<number>` for an HTTP event stream, numbered per server. */
  readonly connectionId: string;
  readonly transport: ConnectionTransport;
  readonly userKey: string | null;
  /** What the app calls the user (`admin.displayName`), or null. */
  readonly displayName: string | null;
  /** The client's address. */
  readonly address: string;
  /** When the socket opened, in ms since the epoch. */
  readonly connectedAt: number;
  /** The procedure path of each subscription it holds. */
  readonly subscriptions: string[];
  /** Bytes received and sent on it so far: WebSocket frames (before compression), or an event stream's socket. */
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** What a lookup compares a query with. */
export interface LookupFields {
  readonly connectionId: string;
  readonly userKey: string | null;
  readonly displayName: string | null;
}
