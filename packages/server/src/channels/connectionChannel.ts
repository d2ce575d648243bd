import type { TrackedEnvelope } from '@trpc/server';
import type { z } from 'zod';
import type { ChannelEvent } from '@herald/shared';
import type { Retention } from '../brokers/broker.js';
import type { PositionedMessage } from './channel.js';

/** The options of `herald.connectionChannel`: what a message to one connection is, and how much of it is kept. */
export interface ConnectionChannelOptions<TMessage extends z.ZodType> {
  /** Schema every message must pass; nothing failing it is stored or delivered. */
  message: TMessage;
  /**
   * How much each connection's stream keeps for resume and `history()`: a
   * connection's id lives as long as the connection, so a short history
   * covers a subscription restarted on it.
   * @default { size: 100, ttlMs: 300_000 } (5 minutes)
   */
  history?: Partial<Retention>;
}

/** A connection channel's history when its options set none. */
export const connectionChannelDefaults = { history: { size: 100, ttlMs: 300_000 } } as const;

/** The prefix of a connection channel's internal channel name (`@` keeps it apart from `herald.channel` names). */
export const CONNECTION_CHANNEL_PREFIX = '@connection.';

/**
 * Messages to one connection (`herald.connectionChannel(...)`), as
 * Socket.IO's `io.to(socket.id)`: a channel keyed by the connection's id
 * (`createContext`'s `connectionId`, which the app keeps in its context),
 * with every rule of a channel (the connection's subscriptions, whichever
 * node it is on, get each message in order, once, and a subscription
 * restarted on it resumes from history), and private by construction: the
 * key of a stream is the caller's own connection id, taken from its
 * context by the procedure, never from its input, so no `authorize` is
 * asked. Other connections of the same user get nothing (see
 * `userChannel` for all of them). A reconnect is a new connection with a
 * new id: what is sent to the old one after it closed reaches no one.
 */
export interface ConnectionChannel<TMessageIn, TMessage> {
  /** The name it was declared with (`herald.connectionChannel(name, ...)`). */
  readonly name: string;
  /** Validates, stores in the connection's history and delivers to each of its subscriptions. Resolves with the message's id. */
  send(connectionId: string, message: TMessageIn): Promise<string>;
  /**
   * The connection's messages for a tRPC subscription procedure, as
   * `channel.stream`: replay after `lastEventId` (or a gap notice), a `live`
   * marker, then live messages, each `tracked` with its position. Pass the
   * caller's own connection id, from its context.
   */
  stream(
    connectionId: string,
    options?: { lastEventId?: string | null | undefined; signal?: AbortSignal | undefined },
  ): AsyncGenerator<TrackedEnvelope<ChannelEvent<TMessage>>, void, unknown>;
  /** The connection's newest `limit` messages, oldest first, and the position to resume a stream from. */
  history(connectionId: string, options?: { limit?: number }): Promise<{ messages: PositionedMessage<TMessage>[]; position: string }>;
}
