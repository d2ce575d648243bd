import type { Message } from './types.js';

/**
 * The messages of one room as the app shows them: each once (keyed by id),
 * oldest first. History fetches and live events both merge in, in any order
 * and any number of times.
 */
export interface MessageLog {
  readonly byId: ReadonlyMap<string, Message>;
  /** Oldest first: by `sentAt`, then by arrival. */
  readonly list: readonly Message[];
}

export const emptyLog: MessageLog = { byId: new Map(), list: [] };

/** Adds the messages not seen yet; returns the same log when all were known. */
export function mergeMessages(log: MessageLog, incoming: readonly Message[]): MessageLog {
  const fresh: Message[] = [];
  const seen = new Set<string>();
  for (const message of incoming) {
    if (log.byId.has(message.id) || seen.has(message.id)) continue;
    seen.add(message.id);
    fresh.push(message);
  }
  if (fresh.length === 0) return log;
  const byId = new Map(log.byId);
  for (const message of fresh) byId.set(message.id, message);
  const last = log.list.at(-1);
  const inOrder = fresh.every((message, i) => {
    const before = i === 0 ? last : fresh[i - 1];
    return !before || before.sentAt.getTime() <= message.sentAt.getTime();
  });
  // The common case (a live message, newer than everything) appends; the
  // rest (history after a gap, a late reply) sorts, stably.
  const list = inOrder ? [...log.list, ...fresh] : [...log.list, ...fresh].sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime());
  return { byId, list };
}
