import { z } from 'zod';

export const RoomName = z.string().regex(/^[a-z0-9-]{1,64}$/, 'Room names are 1-64 lowercase letters, digits or dashes');

/**
 * Characters a name may not hold: text-direction controls (U+202A-202E,
 * U+2066-2069, U+200E/200F, U+061C: `"\u202Eevil"` shows as "live"),
 * zero-width and invisible ones (U+200B-200D, U+2060-2064, U+FEFF, U+00AD,
 * U+180E), and other control characters. They make names that look like
 * someone else's.
 */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const HIDDEN_CHARACTERS = /[\u0000-\u001F\u007F-\u009F\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/u;

/**
 * A sign-in name as typed, made canonical: Unicode NFKC (so full-width
 * "Ａｎｎ" and "Ann" are one name), runs of spaces as one, no spaces at the
 * ends; refused when it holds invisible or text-direction characters (the
 * message says which) or is empty or longer than 32 characters once
 * normalised.
 */
export const DisplayName = z
  .string()
  .max(256)
  .refine((name) => !HIDDEN_CHARACTERS.test(name), {
    error: (issue) => {
      const found = HIDDEN_CHARACTERS.exec(String(issue.input))?.[0] ?? '';
      const code = `U+${(found.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
      return `Names cannot contain invisible or text-direction characters (found ${code}). Type the name again without it.`;
    },
  })
  .transform((name) => name.normalize('NFKC').replace(/\s+/gu, ' ').trim())
  .pipe(z.string().min(1, 'Type a name to join.').max(32, 'Names are at most 32 characters.'));

export const User = z.object({
  id: z.string().min(1).max(64),
  name: z.string().min(1).max(32),
});
export type User = z.infer<typeof User>;

export const Message = z.object({
  id: z.string().min(1),
  room: RoomName,
  author: User,
  text: z.string().min(1).max(2000),
  sentAt: z.date(),
});
export type Message = z.infer<typeof Message>;

/** One room as `chat.rooms` lists it. */
export const RoomSummary = z.object({
  name: RoomName,
  /** Messages the room keeps (its history, at most the server's `historySize`). */
  messageCount: z.number().int().nonnegative(),
  /** Members subscribed to the room now, on every node. */
  memberCount: z.number().int().nonnegative(),
});
export type RoomSummary = z.infer<typeof RoomSummary>;
/** A notice to one user (`notices.nudge`), delivered on the user's own stream (`notices.onNotice`). */
export const Notice = z.object({
  id: z.string().min(1),
  from: User,
  text: z.string().min(1).max(200),
  sentAt: z.date(),
});
export type Notice = z.infer<typeof Notice>;
