import { useCallback, useReducer } from 'react';
import { useConnectionState } from '../herald.js';
import { chatReducer, initialChatState, logOf } from '../lib/chatState.js';
import { useRooms } from '../lib/rooms.js';
import { useOutboxSender } from '../lib/useOutboxSender.js';
import type { Session } from '../lib/types.js';
import { Room } from './Room.js';
import { RoomNav } from './RoomNav.js';

export function ChatScreen({ session, onSignOut }: { session: Session; onSignOut: (reason: string | null) => void }) {
  const { rooms, room, open } = useRooms();
  const [state, dispatch] = useReducer(chatReducer, session.user.id, initialChatState);
  const online = useConnectionState().status === 'open';
  const expired = useCallback(
    (message: string) => onSignOut(`Your session is no longer valid (${message}). Join again to keep chatting.`),
    [onSignOut],
  );
  useOutboxSender(state.outbox, online, dispatch, expired);

  const unsent = state.outbox.filter((entry) => entry.room === room);
  return (
    <div className="app">
      <RoomNav rooms={rooms} current={room} onOpen={open} user={session.user} onSignOut={() => onSignOut(null)} />
      <Room key={room} room={room} me={session.user} log={logOf(state, room)} unsent={unsent} online={online} dispatch={dispatch} />
    </div>
  );
}
