import { emptyLog, mergeMessages, type MessageLog } from './messages.js';
import type { Message } from './types.js';

/**
 * Everything the chat screen knows of each room: its messages, and how many
 * of them came in from others while the room was not open. What the user
 * has not had confirmed lives in the client's outbox (unsent.ts).
 */
export interface ChatState {
  readonly me: string;
  readonly logs: ReadonlyMap<string, MessageLog>;
  readonly unread: ReadonlyMap<string, number>;
}

export type ChatAction =
  /**
   * Messages from a room's subscription, from `chat.history`, or a send's
   * answer: in any order, possibly already known. `unseen`: the room is not
   * open, so new messages from others count as unread.
   */
  | { readonly type: 'received'; readonly room: string; readonly messages: readonly Message[]; readonly unseen?: boolean }
  /** The room is open: its messages are read. */
  | { readonly type: 'read'; readonly room: string };

export function initialChatState(me: string): ChatState {
  return { me, logs: new Map(), unread: new Map() };
}

export function logOf(state: ChatState, room: string): MessageLog {
  return state.logs.get(room) ?? emptyLog;
}

export function unreadIn(state: ChatState, room: string): number {
  return state.unread.get(room) ?? 0;
}

/** Unread messages over every room (the tab title's count). */
export function totalUnread(state: ChatState): number {
  let total = 0;
  for (const count of state.unread.values()) total += count;
  return total;
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'received': {
      const before = logOf(state, action.room);
      const after = mergeMessages(before, action.messages);
      if (after === before) return state;
      const next = { ...state, logs: withEntry(state.logs, action.room, after) };
      if (!action.unseen) return next;
      const fromOthers = action.messages.filter((message) => message.author.id !== state.me).length;
      // Only what was new counts: `after.size - before.size` messages were added, some maybe our own.
      const added = Math.min(after.size - before.size, fromOthers);
      return added > 0 ? { ...next, unread: withEntry(state.unread, action.room, unreadIn(state, action.room) + added) } : next;
    }
    case 'read':
      return unreadIn(state, action.room) === 0 ? state : { ...state, unread: withEntry(state.unread, action.room, 0) };
  }
}

function withEntry<T>(map: ReadonlyMap<string, T>, room: string, value: T): ReadonlyMap<string, T> {
  const next = new Map(map);
  next.set(room, value);
  return next;
}
