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

/** The largest image `chat.sendImage` takes, in bytes (the image itself, before any encoding). */
export const MAX_IMAGE_BYTES = 256 * 1024;

/** The image types the chat shows: raster formats a browser renders from bytes (no SVG, which can carry script). */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

/** Whether `bytes` start as a file of `type` does (its signature), so a client cannot label any bytes an image. */
export function hasImageSignature(bytes: Uint8Array, type: ImageType): boolean {
  const starts = (offset: number, signature: readonly number[]) => signature.every((byte, index) => bytes[offset + index] === byte);
  switch (type) {
    case 'image/png':
      return starts(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    case 'image/jpeg':
      return starts(0, [0xff, 0xd8, 0xff]);
    case 'image/gif':
      return starts(0, [0x47, 0x49, 0x46, 0x38]);
    case 'image/webp':
      // "RIFF", the size, then "WEBP".
      return starts(0, [0x52, 0x49, 0x46, 0x46]) && starts(8, [0x57, 0x45, 0x42, 0x50]);
  }
}

/**
 * An image in a message: its bytes (a `Uint8Array`, sent as MessagePack
 * `bin` on a MessagePack connection, base64 in JSON), their type, and the
 * text that stands for it (its `alt`). At most `MAX_IMAGE_BYTES`, and the
 * bytes must start as the type says.
 */
export const ChatImage = z
  .object({
    bytes: z
      .instanceof(Uint8Array, { error: 'Send the image as bytes (a Uint8Array).' })
      .refine((bytes) => bytes.byteLength > 0, 'The image is empty; pick another file.')
      .refine((bytes) => bytes.byteLength <= MAX_IMAGE_BYTES, `Images are at most ${MAX_IMAGE_BYTES / 1024} KiB; pick a smaller one or scale it down.`),
    type: z.enum(IMAGE_TYPES, { error: 'Send a PNG, JPEG, GIF or WebP image.' }),
    alt: z.string().trim().min(1, 'Describe the image in a few words (its alt text).').max(200, 'Alt text is at most 200 characters.'),
  })
  .refine((image) => hasImageSignature(image.bytes, image.type), {
    error: (issue) => `These bytes are not a ${String((issue.input as { type?: unknown }).type)} file; send the image's own bytes and type.`,
    path: ['bytes'],
  });
export type ChatImage = z.infer<typeof ChatImage>;

/** A message in a room: its text, or an image (with `text` empty). */
export const Message = z.object({
  id: z.string().min(1),
  room: RoomName,
  author: User,
  text: z.string().max(2000),
  image: ChatImage.optional(),
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
