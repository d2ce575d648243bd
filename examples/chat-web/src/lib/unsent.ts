import type { OutboxEntry } from '@herald/client';
import { newestFirst, type MessageLog } from './messages.js';
import type { Message } from './types.js';

/**
 * The user's messages the server has not confirmed, as a room shows them.
 * They live in the Herald client's outbox (`persistence`, IndexedDB): each is
 * recorded before it is sent, sent again with the same idempotency key after
 * a drop or a reload until the server answers, and stored by the server once
 * (docs/outbox.md).
 *
 * - `queued`: waiting for the connection (written offline, or before a reload).
 * - `sending`: on its way.
 * - `failed`: the server refused it, or it waited longer than the outbox's
 *   `maxAgeMs`; shown with Retry and Discard.
 */
export type UnsentStatus = 'queued' | 'sending' | 'failed';

export interface Unsent {
  /** The outbox entry's key. */
  readonly key: string;
  readonly text: string;
  readonly status: UnsentStatus;
  readonly error: string | null;
}

/** How far the server's clock may be behind ours when matching a delivered message to an entry. */
export const CLOCK_SKEW_MS = 60_000;

/**
 * The outbox's `chat.send` entries for `room`, oldest first. A pending entry
 * whose message the room already shows (the live event came before the
 * answer) is left out, so a message never shows twice for a moment: same
 * author, room and text, sent no earlier than the entry allows; each message
 * hides one entry at most.
 */
export function unsentIn(entries: readonly OutboxEntry[], room: string, log: MessageLog, me: string, online: boolean): Unsent[] {
  const shown = new Set<string>();
  const unsent: Unsent[] = [];
  for (const entry of entries) {
    if (entry.path !== 'chat.send') continue;
    const input = entry.input as { room: string; text: string };
    if (input.room !== room) continue;
    if (entry.state === 'pending') {
      const delivered = deliveredFor(log, me, input.text, entry.createdAt - CLOCK_SKEW_MS, shown);
      if (delivered) {
        shown.add(delivered.id);
        continue;
      }
    }
    unsent.push({
      key: entry.key,
      text: input.text,
      status: entry.state === 'failed' ? 'failed' : online ? 'sending' : 'queued',
      error: entry.error ? errorText(entry.error) : null,
    });
  }
  return unsent;
}

/** The oldest message not yet matched that `me` sent with `text` at `since` or later (only the newest messages are read). */
function deliveredFor(log: MessageLog, me: string, text: string, since: number, shown: ReadonlySet<string>): Message | undefined {
  let found: Message | undefined;
  for (const message of newestFirst(log)) {
    if (message.sentAt.getTime() < since) break;
    if (!shown.has(message.id) && message.author.id === me && message.text === text) found = message;
  }
  return found;
}

function errorText(error: NonNullable<OutboxEntry['error']>): string {
  if (error.heraldCode === 'OUTBOX_EXPIRED') return 'Not sent in time; it may or may not have arrived.';
  return `Not sent: ${error.message}`;
}
