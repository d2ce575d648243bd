import { z } from 'zod';

export const RoomName = z.string().regex(/^[a-z0-9-]{1,64}$/, 'Room names are 1-64 lowercase letters, digits or dashes');

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
