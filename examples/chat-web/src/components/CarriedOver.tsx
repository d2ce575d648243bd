import { useState } from 'react';
import type { OutboxEntry } from '@herald/client';

/**
 * Messages written before this sign-in (a session that ended, a tab that
 * closed) and kept in the user's outbox: the next client of the same user
 * sends them (docs/outbox.md). This says so, and where they are, so none
 * goes out or waits unseen; each one shows in its room as sending, or as
 * failed with Retry and Discard.
 */
export function CarriedOver({ entries, onOpen }: { entries: readonly OutboxEntry[]; onOpen: (room: string) => void }) {
  const [since] = useState(() => Date.now());
  const [carried, setCarried] = useState<ReadonlyMap<string, string>>(new Map());
  const [dismissed, setDismissed] = useState(false);

  const earlier = entries.filter((entry) => entry.path === 'chat.send' && entry.createdAt < since);
  const unknown = earlier.filter((entry) => !carried.has(entry.key));
  // Remembered as they are first seen (state adjusted during render), so the note stays once they are sent.
  if (unknown.length > 0) setCarried(new Map([...carried, ...unknown.map((entry) => [entry.key, (entry.input as { room: string }).room] as const)]));

  if (carried.size === 0 || dismissed) return null;
  const waiting = earlier.length;
  const rooms = [...new Set(carried.values())];
  const count = (n: number) => (n === 1 ? '1 message' : `${n} messages`);
  return (
    <section className="carried" aria-label="Kept from before you signed in" data-carried={carried.size} data-carried-waiting={waiting}>
      <p role="status">
        {waiting > 0
          ? `${count(carried.size)} you wrote before signing in again ${waiting === 1 && carried.size === 1 ? 'is' : 'are'} kept: ${count(waiting)} still to send or to retry.`
          : `${count(carried.size)} you wrote before signing in again ${carried.size === 1 ? 'was' : 'were'} sent.`}{' '}
        In{' '}
        {rooms.map((room, index) => (
          <span key={room}>
            {index > 0 && ', '}
            <a
              href={`#/${room}`}
              onClick={(event) => {
                event.preventDefault();
                onOpen(room);
              }}
            >
              #{room}
            </a>
          </span>
        ))}
        .
      </p>
      <button type="button" className="button button--small" onClick={() => setDismissed(true)}>
        Dismiss
      </button>
    </section>
  );
}
