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
  /** The channel topics (`<channel>:<key>`) its channel subscriptions deliver, once open. */
  readonly topics: string[];
  /** Bytes received and sent on it so far: WebSocket frames (before compression), or an event stream's socket. */
  readonly bytesIn: number;
  readonly bytesOut: number;
}

/** What a lookup compares a query with. */
export interface LookupFields {
  readonly connectionId: string;
  readonly userKey: string | null;
  readonly displayName: string | null;
  /** Its channel topics (`ConnectionSummary.topics`), read only by a lookup of a channel's connections. */
  readonly topics: () => readonly string[];
}

/** A call a connection holds, as its summary reads it: a channel subscription knows its path and, once open, its topic. */
interface CallFields {
  readonly type: string;
  readonly path?: string | undefined;
  readonly topic?: string | undefined;
}

/** How many of `calls` are subscriptions. */
export function countSubscriptions(calls: Iterable<CallFields>): number {
  let count = 0;
  for (const call of calls) if (call.type === 'subscription') count++;
  return count;
}

/** The channel topics `calls`' open channel subscriptions deliver. */
export function callTopics(calls: Iterable<CallFields>): string[] {
  const topics: string[] = [];
  for (const call of calls) if (call.type === 'subscription' && call.topic !== undefined) topics.push(call.topic);
  return topics;
}

/** The procedure path of each subscription of `calls` and the topics of its channel subscriptions. */
export function summarizeCalls(calls: Iterable<CallFields>): { subscriptions: string[]; topics: string[] } {
  const subscriptions: string[] = [];
  const topics: string[] = [];
  for (const call of calls) {
    if (call.type !== 'subscription') continue;
    subscriptions.push(call.path ?? '(subscription)');
    if (call.topic !== undefined) topics.push(call.topic);
  }
  return { subscriptions, topics };
}
