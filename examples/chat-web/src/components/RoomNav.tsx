import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { toRoomName } from '../lib/rooms.js';
import type { User } from '../lib/types.js';
import { Avatar } from './Avatar.js';

interface Props {
  rooms: readonly string[];
  current: string;
  /** Unread messages per room. */
  unread: ReadonlyMap<string, number>;
  onOpen: (room: string) => void;
  user: User;
  onSignOut: () => void;
}

/** Rooms, a form to open a new one, and who is signed in. A sidebar on wide screens, a bar on phones. */
export function RoomNav({ rooms, current, unread, onOpen, user, onSignOut }: Props) {
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  // On a phone the form folds behind a button, so the conversation keeps the height.
  const [formOpen, setFormOpen] = useState(false);
  const formId = useId();
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (formOpen) input.current?.focus();
  }, [formOpen]);
  const inputId = useId();
  const errorId = useId();
  const selectId = useId();

  const create = (event: FormEvent) => {
    event.preventDefault();
    const name = toRoomName(draft);
    if (!name) {
      setError('Use letters, digits or dashes.');
      return;
    }
    setError(null);
    setDraft('');
    setFormOpen(false);
    onOpen(name);
  };

  return (
    <nav className="sidebar" aria-label="Rooms">
      <div className="sidebar__top">
        <div className="brand">
          <span className="brand__mark" aria-hidden="true">H</span>
          <span>Herald Chat</span>
        </div>
        <div className="room-select">
          <label htmlFor={selectId} className="visually-hidden">
            Room
          </label>
          <select id={selectId} value={current} onChange={(event) => onOpen(event.target.value)}>
            {rooms.map((room) => (
              <option key={room} value={room}>
                # {room}
                {(unread.get(room) ?? 0) > 0 ? ` (${unread.get(room)} unread)` : ''}
              </option>
            ))}
          </select>
        </div>
        <button
          type="button"
          className="button button--small new-room-toggle"
          aria-expanded={formOpen}
          aria-controls={formId}
          onClick={() => setFormOpen((open) => !open)}
        >
          <span aria-hidden="true">+</span> New room
        </button>
      </div>

      <h2 className="sidebar__heading">Rooms</h2>
      <ul className="room-list">
        {rooms.map((room) => (
          <li key={room}>
            <a
              href={`#/${room}`}
              className="room-link"
              aria-current={room === current ? 'page' : undefined}
              onClick={(event) => {
                event.preventDefault();
                onOpen(room);
              }}
            >
              <span aria-hidden="true">#</span> {room}
              {(unread.get(room) ?? 0) > 0 && (
                <span className="unread" data-unread={unread.get(room)}>
                  {unread.get(room)}
                  <span className="visually-hidden"> unread</span>
                </span>
              )}
            </a>
          </li>
        ))}
      </ul>

      <form id={formId} className={`new-room${formOpen ? ' new-room--open' : ''}`} onSubmit={create} noValidate>
        <label htmlFor={inputId}>New room</label>
        <div className="new-room__row">
          <input
            id={inputId}
            ref={input}
            value={draft}
            placeholder="room-name"
            maxLength={64}
            onChange={(event) => setDraft(event.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? errorId : undefined}
          />
          <button type="submit" className="button" disabled={!draft.trim()}>
            Create
          </button>
        </div>
        {error && (
          <p className="field-error" id={errorId} role="alert">
            {error}
          </p>
        )}
      </form>

      <div className="me">
        <Avatar name={user.name} id={user.id} />
        <span className="me__name" title={user.name}>
          {user.name}
        </span>
        <button type="button" className="button button--ghost" onClick={onSignOut}>
          Sign out
        </button>
      </div>
    </nav>
  );
}
