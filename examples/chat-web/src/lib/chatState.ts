import { emptyLog, mergeMessages, type MessageLog } from './messages.js';
import type { Message } from './types.js';

/** Everything the chat screen knows of each room: its messages. What the user has not had confirmed lives in the client's outbox (unsent.ts). */
export interface ChatState {
  readonly me: string;
  readonly logs: ReadonlyMap<string, MessageLog>;
}

export type ChatAction =
  /** Messages from the room's subscription, from `chat.history`, or a send's answer: in any order, possibly already known. */
  { readonly type: 'received'; readonly room: string; readonly messages: readonly Message[] };

export function initialChatState(me: string): ChatState {
  return { me, logs: new Map() };
}

export function logOf(state: ChatState, room: string): MessageLog {
  return state.logs.get(room) ?? emptyLog;
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'received': {
      const before = logOf(state, action.room);
      const after = mergeMessages(before, action.messages);
      return after === before ? state : { ...state, logs: withLog(state.logs, action.room, after) };
    }
  }
}

function withLog(logs: ReadonlyMap<string, MessageLog>, room: string, log: MessageLog): ReadonlyMap<string, MessageLog> {
  const next = new Map(logs);
  next.set(room, log);
  return next;
}
