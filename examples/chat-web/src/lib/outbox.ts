import type { Message } from './types.js';

/**
 * Messages the user wrote that the server has not confirmed yet.
 *
 * - `queued`: waiting for the connection (written while offline, or behind another send).
 * - `sending`: `chat.send` is in flight.
 * - `failed`: the send failed; shown as failed with Retry and Discard. A send
 *   cut off by a dropped connection also ends here, since the server may or
 *   may not have stored it: retrying blindly could post it twice. If it did
 *   arrive, it shows up in the room and `reconcile` removes the entry.
 *
 * Sends go one at a time, oldest first, so a room sees them in the order written.
 * Pure functions; `useOutbox` drives them.
 */
export type OutboxStatus = 'queued' | 'sending' | 'failed';

export interface OutboxEntry {
  readonly localId: string;
  readonly room: string;
  readonly text: string;
  readonly createdAt: number;
  readonly status: OutboxStatus;
  /** When the first send started (null until then). */
  readonly firstAttemptAt: number | null;
  readonly error: string | null;
}

export type Outbox = readonly OutboxEntry[];

/** How far the server's clock may be behind ours when matching a delivered message to an entry. */
export const CLOCK_SKEW_MS = 60_000;

export function enqueue(outbox: Outbox, entry: { localId: string; room: string; text: string; now: number }): Outbox {
  return [
    ...outbox,
    { localId: entry.localId, room: entry.room, text: entry.text, createdAt: entry.now, status: 'queued', firstAttemptAt: null, error: null },
  ];
}

/** The entry to send now, if any: the oldest queued one, when nothing is in flight and the link is open. */
export function nextToSend(outbox: Outbox, online: boolean): OutboxEntry | null {
  if (!online || outbox.some((entry) => entry.status === 'sending')) return null;
  return outbox.find((entry) => entry.status === 'queued') ?? null;
}

export function markSending(outbox: Outbox, localId: string, now: number): Outbox {
  return update(outbox, localId, (entry) => ({ ...entry, status: 'sending', firstAttemptAt: entry.firstAttemptAt ?? now, error: null }));
}

/** The server confirmed it: the message now lives in the room's log. */
export function markSent(outbox: Outbox, localId: string): Outbox {
  return remove(outbox, localId);
}

export function markFailed(outbox: Outbox, localId: string, error: string): Outbox {
  return update(outbox, localId, (entry) => ({ ...entry, status: 'failed', error }));
}

export function retry(outbox: Outbox, localId: string): Outbox {
  return update(outbox, localId, (entry) => (entry.status === 'failed' ? { ...entry, status: 'queued', error: null } : entry));
}

export function discard(outbox: Outbox, localId: string): Outbox {
  return remove(outbox, localId);
}

/**
 * Messages seen in the room (live or from history) may be ones whose
 * confirmation never came back (the link dropped mid-send): an entry that was
 * attempted, by the same author, same room and text, sent no earlier than the
 * attempt allows, is taken as delivered and removed. Each message settles one
 * entry at most.
 */
export function reconcile(outbox: Outbox, messages: readonly Message[], myUserId: string): Outbox {
  let next = outbox;
  for (const message of messages) {
    if (message.author.id !== myUserId) continue;
    const match = next.find(
      (entry) =>
        entry.status !== 'queued' &&
        entry.firstAttemptAt !== null &&
        entry.room === message.room &&
        entry.text === message.text &&
        message.sentAt.getTime() >= entry.firstAttemptAt - CLOCK_SKEW_MS,
    );
    if (match) next = remove(next, match.localId);
  }
  return next;
}

function update(outbox: Outbox, localId: string, change: (entry: OutboxEntry) => OutboxEntry): Outbox {
  let changed = false;
  const next = outbox.map((entry) => {
    if (entry.localId !== localId) return entry;
    changed = true;
    return change(entry);
  });
  return changed ? next : outbox;
}

function remove(outbox: Outbox, localId: string): Outbox {
  const next = outbox.filter((entry) => entry.localId !== localId);
  return next.length === outbox.length ? outbox : next;
}
