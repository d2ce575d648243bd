import type { Message } from './types.js';

/** Messages per chunk: an appended message copies one chunk of at most this many, never the whole room. */
export const CHUNK_SIZE = 256;

interface Chunk {
  /** Oldest first. */
  readonly messages: readonly Message[];
  readonly ids: ReadonlySet<string>;
}

/**
 * The messages of one room as the app shows them: each once (keyed by id),
 * oldest first. History fetches and live events both merge in, in any order
 * and any number of times.
 *
 * Stored in chunks of at most `CHUNK_SIZE`, each with the set of its ids, so
 * a live message (newer than everything: the common case) copies the last
 * chunk only; a room of 10,000 messages costs a few hundred copies per
 * message, not 10,000. Older messages (history) rebuild the chunks.
 */
export interface MessageLog {
  readonly chunks: readonly Chunk[];
  /** How many messages the log holds. */
  readonly size: number;
}

export const emptyLog: MessageLog = { chunks: [], size: 0 };

export function hasMessage(log: MessageLog, id: string): boolean {
  return log.chunks.some((chunk) => chunk.ids.has(id));
}

/** Every message, oldest first (a copy: for tests and small rooms). */
export function messagesOf(log: MessageLog): Message[] {
  return log.chunks.flatMap((chunk) => chunk.messages);
}

/** The newest `count` messages, oldest first. */
export function lastMessages(log: MessageLog, count: number): Message[] {
  const out: Message[] = [];
  for (let c = log.chunks.length - 1; c >= 0 && out.length < count; c--) {
    const messages = log.chunks[c]?.messages ?? [];
    for (let i = messages.length - 1; i >= 0 && out.length < count; i--) out.push(messages[i] as Message);
  }
  return out.reverse();
}

/** The newest message, if any. */
export function lastMessage(log: MessageLog): Message | undefined {
  return log.chunks.at(-1)?.messages.at(-1);
}

/** The messages newest first, lazily (stops when the caller does). */
export function* newestFirst(log: MessageLog): Generator<Message> {
  for (let c = log.chunks.length - 1; c >= 0; c--) {
    const messages = log.chunks[c]?.messages ?? [];
    for (let i = messages.length - 1; i >= 0; i--) yield messages[i] as Message;
  }
}

function chunkOf(messages: readonly Message[]): Chunk {
  return { messages, ids: new Set(messages.map((message) => message.id)) };
}

function chunked(messages: readonly Message[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (let i = 0; i < messages.length; i += CHUNK_SIZE) chunks.push(chunkOf(messages.slice(i, i + CHUNK_SIZE)));
  return chunks;
}

/** Adds the messages not seen yet; returns the same log when all were known. */
export function mergeMessages(log: MessageLog, incoming: readonly Message[]): MessageLog {
  const fresh: Message[] = [];
  const seen = new Set<string>();
  for (const message of incoming) {
    if (seen.has(message.id) || hasMessage(log, message.id)) continue;
    seen.add(message.id);
    fresh.push(message);
  }
  if (fresh.length === 0) return log;
  const last = lastMessage(log);
  const inOrder = fresh.every((message, i) => {
    const before = i === 0 ? last : fresh[i - 1];
    return !before || before.sentAt.getTime() <= message.sentAt.getTime();
  });
  const size = log.size + fresh.length;
  if (!inOrder) {
    // History after a gap, a late reply, older pages: sort (stably) and rebuild.
    const all = [...messagesOf(log), ...fresh].sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime());
    return { chunks: chunked(all), size };
  }
  // The common case (live messages, newer than everything): fill the last chunk, then start new ones.
  const tail = log.chunks.at(-1);
  const head = tail && tail.messages.length < CHUNK_SIZE ? log.chunks.slice(0, -1) : [...log.chunks];
  const start = tail && tail.messages.length < CHUNK_SIZE ? [...tail.messages] : [];
  return { chunks: [...head, ...chunked([...start, ...fresh])], size };
}
