import { useCallback, useEffect, useState } from 'react';

/** The server's rule for room names. */
export const ROOM_PATTERN = /^[a-z0-9-]{1,64}$/;
export const DEFAULT_ROOM = 'lobby';
const KEY = 'herald-chat:rooms';

/** Turns what someone typed ("Team Sync!") into a valid room name ("team-sync"), or null. */
export function toRoomName(input: string): string | null {
  const name = input
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-')
    .replace(/[^a-z0-9-]/g, '')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
  return ROOM_PATTERN.test(name) ? name : null;
}

function loadRooms(): string[] {
  try {
    const value: unknown = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    const rooms = Array.isArray(value) ? value.filter((room): room is string => typeof room === 'string' && ROOM_PATTERN.test(room)) : [];
    return [DEFAULT_ROOM, ...rooms.filter((room) => room !== DEFAULT_ROOM)];
  } catch {
    return [DEFAULT_ROOM];
  }
}

/** The room a hash names (`#/team-sync`), or null: a malformed escape (`#/%E0%A4%A`) names none rather than throwing. */
export function roomOfHash(hash: string): string | null {
  let name: string;
  try {
    name = decodeURIComponent(hash.replace(/^#\/?/, ''));
  } catch {
    return null;
  }
  return ROOM_PATTERN.test(name) ? name : null;
}

function roomFromHash(): string | null {
  return roomOfHash(location.hash);
}

/** The rooms this browser knows (kept in localStorage) and the open one (kept in the URL hash, so it can be shared). */
export function useRooms(): { rooms: readonly string[]; room: string; open: (room: string) => void } {
  const [rooms, setRooms] = useState(() => {
    const known = loadRooms();
    const linked = roomFromHash();
    return linked && !known.includes(linked) ? [...known, linked] : known;
  });
  const [room, setRoom] = useState(() => roomFromHash() ?? DEFAULT_ROOM);

  useEffect(() => {
    const onHashChange = () => {
      const linked = roomFromHash();
      if (!linked) return;
      setRooms((known) => (known.includes(linked) ? known : [...known, linked]));
      setRoom(linked);
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, []);

  useEffect(() => {
    try {
      localStorage.setItem(KEY, JSON.stringify(rooms));
    } catch {
      // Not remembered across visits; nothing else depends on it.
    }
  }, [rooms]);

  const open = useCallback((next: string) => {
    setRooms((known) => (known.includes(next) ? known : [...known, next]));
    setRoom(next);
    if (roomFromHash() !== next) history.replaceState(null, '', `#/${next}`);
  }, []);

  return { rooms, room, open };
}
