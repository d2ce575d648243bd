import type { TrackedEnvelope } from '@trpc/server';
import { z } from 'zod';
import type { ChannelEvent } from '@herald/shared';
import type { Retention } from '../brokers/broker.js';
import { createChannel, type ChannelRuntime, type PositionedMessage } from './channel.js';

/** The options of `herald.userChannel`: what a message to one user is, and how much of it is kept for resume. */
export interface UserChannelOptions<TMessage extends z.ZodType> {
  /** Schema every message must pass; nothing failing it is stored or delivered. */
  message: TMessage;
  /**
   * How much each user's stream keeps for resume and `history()`.
   * @default { size: 1_000, ttlMs: 86_400_000 } (24 hours)
   */
  history?: Partial<Retention>;
}

/**
 * Messages to one user (`herald.userChannel(...)`): a channel keyed by the
 * user's key (`userKey` of the server: by default the user's `id` or `sub`),
 * with every rule of a channel (each subscription of the user, on every
 * node, gets every message in order, once, and resumes after a reconnect
 * from history), and private by construction: the key of a stream is the
 * caller's own, taken from its context by the procedure, never from its
 * input, so no `authorize` is asked.
 */
export interface UserChannel<TMessageIn, TMessage> {
  /** The name it was declared with (`herald.userChannel(name, ...)`). */
  readonly name: string;
  /** Validates, stores in the user's history and delivers to each of the user's subscriptions. Resolves with the message's id. */
  send(userKey: string, message: TMessageIn): Promise<string>;
  /**
   * The user's messages for a tRPC subscription procedure, as `channel.stream`:
   * replay after `lastEventId` (or a gap notice), a `live` marker, then live
   * messages, each `tracked` with its position. Pass the caller's own user
   * key, from its context.
   */
  stream(
    userKey: string,
    options?: { lastEventId?: string | null | undefined; signal?: AbortSignal | undefined },
  ): AsyncGenerator<TrackedEnvelope<ChannelEvent<TMessage>>, void, unknown>;
  /** The user's newest `limit` messages, oldest first, and the position to resume a stream from. */
  history(userKey: string, options?: { limit?: number }): Promise<{ messages: PositionedMessage<TMessage>[]; position: string }>;
}

/** The prefix of a user channel's internal channel name: `@` is not allowed in `herald.channel` names, so none collides. */
export const USER_CHANNEL_PREFIX = '@user.';

/** A user key, or a connection id, as a channel key. */
export const PrivateKey = z.string().min(1).max(256);

/**
 * A channel over the channel machinery, under `internalName`, keyed by a
 * user key or a connection id, with no `authorize`: the procedure picks the
 * key from its caller's context, so a caller reaches only its own stream.
 * `herald.userChannel` and `herald.connectionChannel` are this (their
 * interfaces differ only in what they call the key).
 */
export function createPrivateChannel<TMessage extends z.ZodType>(
  name: string,
  internalName: string,
  options: UserChannelOptions<TMessage>,
  runtime: ChannelRuntime,
): UserChannel<z.input<TMessage>, z.output<TMessage>> {
  const channel = createChannel(
    internalName,
    { key: PrivateKey, message: options.message, ...(options.history ? { history: options.history } : {}) },
    { ...runtime, authorize: undefined },
  );
  return {
    name,
    send: (key, message) => channel.publish(key, message),
    stream: (key, streamOptions = {}) => channel.stream(key, streamOptions),
    history: (key, historyOptions = {}) => channel.history(key, historyOptions),
  };
}
