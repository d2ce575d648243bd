import { useEffect, useReducer, useState, type Dispatch } from 'react';
import { useChannel, useConnectionState, useHeraldClient, useOutbox, useTRPC } from '../herald.js';
import { chatReducer, initialChatState, logOf, totalUnread, type ChatAction } from '../lib/chatState.js';
import { recordFailureText } from '../lib/errors.js';
import { useRooms } from '../lib/rooms.js';
import type { Message, Session } from '../lib/types.js';
import { unsentIn } from '../lib/unsent.js';
import { CarriedOver } from './CarriedOver.js';
import { Room } from './Room.js';
import { RoomNav } from './RoomNav.js';

const TITLE = 'Herald Chat';

export function ChatScreen({ session, onSignOut }: { session: Session; onSignOut: (reason: string | null) => void }) {
  const { rooms, room, open } = useRooms();
  const [state, dispatch] = useReducer(chatReducer, session.user.id, initialChatState);
  const online = useConnectionState().status === 'open';
  const client = useHeraldClient();
  const outbox = useOutbox();

  // Outcomes of sends, this page's and those an earlier page left in the outbox.
  useEffect(
    () =>
      client.outbox?.onSettled((outcome) => {
        if (outcome.entry.path !== 'chat.send') return;
        if (outcome.type === 'success') {
          const message = outcome.result as Message;
          dispatch({ type: 'received', room: message.room, messages: [message] });
        } else if (outcome.type === 'error' && outcome.error.code === 'UNAUTHORIZED') {
          onSignOut(`Your session is no longer valid (${outcome.error.message}). Join again to keep chatting.`);
        }
      }),
    [client, onSignOut],
  );

  // The open room is read; the others count what comes in (RoomWatcher), shown in the nav and the tab title.
  useEffect(() => dispatch({ type: 'read', room }), [room]);
  const unread = totalUnread(state);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) ${TITLE}` : TITLE;
  }, [unread]);
  useEffect(() => () => void (document.title = TITLE), []);

  // Join puts the caret in the message box; opening another room leaves focus where it is (no keyboard popping up on a phone).
  const [joinedIn] = useState(room);

  // A Retry whose new record cannot be stored leaves the entry failed as it was: why shows on it until the next Retry.
  const [retryErrors, setRetryErrors] = useState<ReadonlyMap<string, string>>(new Map());
  const setRetryError = (key: string, text: string | null) =>
    setRetryErrors((errors) => {
      const next = new Map(errors);
      if (text === null) next.delete(key);
      else next.set(key, text);
      return next;
    });
  const retry = (key: string) => {
    setRetryError(key, null);
    outbox.retry(key).catch((error: unknown) => setRetryError(key, recordFailureText(error)));
  };

  const log = logOf(state, room);
  return (
    <>
      <CarriedOver entries={outbox.entries} onOpen={open} />
      <div className="app">
        <RoomNav rooms={rooms} current={room} unread={state.unread} onOpen={open} user={session.user} onSignOut={() => onSignOut(null)} />
        {rooms
          .filter((other) => other !== room)
          .map((other) => (
            <RoomWatcher key={other} room={other} dispatch={dispatch} />
          ))}
        <Room
          key={room}
          room={room}
          focusComposer={room === joinedIn}
          me={session.user}
          log={log}
          unsent={unsentIn(outbox.entries, room, log, session.user.id, online).map((entry) => ({ ...entry, error: retryErrors.get(entry.key) ?? entry.error }))}
          online={online}
          dispatch={dispatch}
          onRetry={retry}
          onDiscard={(key) => void outbox.discard(key)}
        />
      </div>
    </>
  );
}

/**
 * A room this browser knows but has not open: its messages are received
 * (from the stored position: what came in since it was last open) and
 * counted as unread until it is opened. Renders nothing.
 */
function RoomWatcher({ room, dispatch }: { room: string; dispatch: Dispatch<ChatAction> }) {
  const trpc = useTRPC();
  useChannel(trpc.chat.onMessage.subscriptionOptions({ room }), {
    onMessage: (message) => dispatch({ type: 'received', room, messages: [message], unseen: true }),
  });
  return null;
}
