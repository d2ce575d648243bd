import { emptyLog, mergeMessages, type MessageLog } from './messages.js';
import { discard, enqueue, markFailed, markSending, markSent, reconcile, retry, type Outbox } from './outbox.js';
import type { Message } from './types.js';

/** Everything the chat screen knows: each room's messages and what the user has not had confirmed yet. */
export interface ChatState {
  readonly me: string;
  readonly logs: ReadonlyMap<string, MessageLog>;
  readonly outbox: Outbox;
}

export type ChatAction =
  /** Messages from the room's subscription or from `chat.history`, in any order, possibly already known. */
  | { readonly type: 'received'; readonly room: string; readonly messages: readonly Message[] }
  | { readonly type: 'write'; readonly localId: string; readonly room: string; readonly text: string; readonly now: number }
  | { readonly type: 'sending'; readonly localId: string; readonly now: number }
  | { readonly type: 'sent'; readonly localId: string; readonly message: Message }
  | { readonly type: 'failed'; readonly localId: string; readonly error: string }
  | { readonly type: 'retry'; readonly localId: string }
  | { readonly type: 'discard'; readonly localId: string };

export function initialChatState(me: string): ChatState {
  return { me, logs: new Map(), outbox: [] };
}

export function logOf(state: ChatState, room: string): MessageLog {
  return state.logs.get(room) ?? emptyLog;
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'received': {
      const before = logOf(state, action.room);
      const after = mergeMessages(before, action.messages);
      if (after === before) return state;
      // Only messages new to the log can settle an unconfirmed send; a
      // refetch that repeats old ones must not match a newer identical text.
      const fresh = action.messages.filter((message) => !before.byId.has(message.id));
      return { ...state, logs: withLog(state.logs, action.room, after), outbox: reconcile(state.outbox, fresh, state.me) };
    }
    case 'write':
      return { ...state, outbox: enqueue(state.outbox, action) };
    case 'sending':
      return { ...state, outbox: markSending(state.outbox, action.localId, action.now) };
    case 'sent': {
      const { message } = action;
      const before = logOf(state, message.room);
      const after = mergeMessages(before, [message]);
      return { ...state, logs: after === before ? state.logs : withLog(state.logs, message.room, after), outbox: markSent(state.outbox, action.localId) };
    }
    case 'failed':
      return { ...state, outbox: markFailed(state.outbox, action.localId, action.error) };
    case 'retry':
      return { ...state, outbox: retry(state.outbox, action.localId) };
    case 'discard':
      return { ...state, outbox: discard(state.outbox, action.localId) };
  }
}

function withLog(logs: ReadonlyMap<string, MessageLog>, room: string, log: MessageLog): ReadonlyMap<string, MessageLog> {
  const next = new Map(logs);
  next.set(room, log);
  return next;
}
