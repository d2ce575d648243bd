import { useEffect, useReducer } from 'react';
import { useConnectionState, useHeraldClient, useOutbox } from '../herald.js';
import { chatReducer, initialChatState, logOf } from '../lib/chatState.js';
import { useRooms } from '../lib/rooms.js';
import type { Message, Session } from '../lib/types.js';
import { unsentIn } from '../lib/unsent.js';
import { CarriedOver } from './CarriedOver.js';
import { Room } from './Room.js';
import { RoomNav } from './RoomNav.js';

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

  const log = logOf(state, room);
  return (
    <>
      <CarriedOver entries={outbox.entries} onOpen={open} />
      <div className="app">
        <RoomNav rooms={rooms} current={room} onOpen={open} user={session.user} onSignOut={() => onSignOut(null)} />
        <Room
          key={room}
          room={room}
          me={session.user}
          log={log}
          unsent={unsentIn(outbox.entries, room, log, session.user.id, online)}
          online={online}
          dispatch={dispatch}
          onRetry={(key) => void outbox.retry(key)}
          onDiscard={(key) => void outbox.discard(key)}
        />
      </div>
    </>
  );
}
