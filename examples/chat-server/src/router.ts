import { createHash, randomUUID } from 'node:crypto';
import { initTRPC, TRPCError } from '@trpc/server';
import { heraldErrorFormatter, resumeInput, transformer, type Herald } from '@herald/server';
import { z } from 'zod';
import type { TokenIssuer } from './auth.js';
import { ChatImage, DisplayName, Message, Notice, RoomName, User, type RoomSummary } from './schemas.js';

export interface ChatContext {
  /** The connection's user (its token was verified at connect), or null for an anonymous connection. */
  readonly user: User | null;
}

export interface ChatDeps {
  readonly herald: Herald;
  readonly tokens: TokenIssuer;
  readonly startedAt: number;
  /** Messages each room keeps for `chat.history` and resume. @default 1000 */
  readonly historySize?: number;
}

/** Events the room index (`chat.activity`) keeps: the rooms `chat.rooms` lists are those active in them. */
const ROOM_INDEX_SIZE = 1_000;

const HistoryInput = z.object({ room: RoomName, limit: z.number().int().min(1).max(200).optional() });
/** `before`: a message id; the page ends just before that message (older history on demand). */
const OlderHistoryInput = HistoryInput.extend({ before: z.string().min(1).max(64).optional() });

/**
 * The demo's user id for a sign-in name: the same name (compared after NFKC
 * and case folding) is the same user on every sign-in and every node, so
 * what an outbox keeps per user (docs/outbox.md) is found again after the
 * session ends. The demo has no passwords: a name is who you are.
 */
export function userIdOf(name: string): string {
  return `u_${createHash('sha256').update(`herald-chat:${name.normalize('NFKC').toLowerCase()}`).digest('hex').slice(0, 32)}`;
}

const t = initTRPC.context<ChatContext>().create({ transformer, errorFormatter: heraldErrorFormatter });

const authed = t.procedure.use(({ ctx, next }) => {
  if (!ctx.user) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Log in with auth.login and pass the token as connectionParams.token.' });
  }
  return next({ ctx: { user: ctx.user } });
});

export function createChatRouter(deps: ChatDeps) {
  const { herald, tokens } = deps;
  // One key, `all`, that every room's activity is published on: a message
  // sent, a member joined or left. It is what `chat.rooms` depends on, and
  // its history lists the rooms (those active in its last ROOM_INDEX_SIZE events).
  const activity = herald.channel('chat.activity', {
    key: z.literal('all'),
    message: z.object({ room: RoomName }),
    history: { size: ROOM_INDEX_SIZE, ttlMs: 7 * 24 * 60 * 60 * 1000 },
  });

  /** Says a room changed (a message, a join, a leave); a failure only delays `chat.onRooms`, so it is reported and not thrown. */
  function touch(room: string): Promise<void> {
    return activity.publish('all', { room }).then(
      () => undefined,
      (error: unknown) => console.error('[chat] room activity not published', error),
    );
  }

  const rooms = herald.channel('chat.room', {
    key: RoomName,
    message: Message,
    presence: User,
    history: { size: deps.historySize ?? 1000, ttlMs: 7 * 24 * 60 * 60 * 1000 },
    // A member joined or left: the room list's member counts change. The
    // room stream itself goes out as it is (the native write path).
    onPresenceChange: ({ key }) => touch(key),
  });
  // Notices to one user, keyed by the user's id (the server's default `userKey`).
  const notices = herald.userChannel('notices', { message: Notice, history: { size: 100 } });

  const roomList = t.procedure.query(async (): Promise<RoomSummary[]> => {
    const { messages } = await activity.history('all');
    const names = [...new Set(messages.map((entry) => entry.message.room))].sort();
    return Promise.all(
      names.map(async (name) => {
        const { topic } = rooms.key(name);
        const [messageCount, members] = await Promise.all([
          herald.broker.historyLength ? herald.broker.historyLength(topic) : rooms.history(name).then((read) => read.messages.length),
          rooms.members(name),
        ]);
        return { name, messageCount, memberCount: members.length };
      }),
    );
  });
  const roomListLive = herald.live(roomList, { name: 'chat.rooms', dependsOn: () => [activity.key('all')] });

  /** The newest messages of a room, oldest first, and the position they end at. */
  async function latest(room: string, limit = 50): Promise<{ messages: Message[]; position: string }> {
    const { messages, position } = await rooms.history(room, { limit });
    return { messages: messages.map((entry) => entry.message), position };
  }

  /** The `limit` messages just before message `before`, oldest first ([] when it is no longer kept). */
  async function olderThan(room: string, before: string, limit = 50): Promise<Message[]> {
    const { messages } = await rooms.history(room);
    const end = messages.findIndex((entry) => entry.message.id === before);
    return end < 0 ? [] : messages.slice(Math.max(0, end - limit), end).map((entry) => entry.message);
  }

  return t.router({
    auth: t.router({
      login: t.procedure
        .input(z.object({ name: DisplayName }))
        .mutation(async ({ input }) => {
          const user: User = { id: userIdOf(input.name), name: input.name };
          return { token: await tokens.sign(user), user };
        }),

      /**
       * A new token for the caller, who must hold a valid one (on the
       * connection, or as `Authorization: Bearer` over HTTP): clients call it
       * before their token runs out and send the result as fresh
       * `connectionParams`, in-band on the open socket.
       */
      refresh: authed.mutation(async ({ ctx }) => ({ token: await tokens.sign(ctx.user) })),
    }),

    chat: t.router({
      send: authed
        .input(z.object({ room: RoomName, text: z.string().min(1).max(2000) }))
        .mutation(async ({ input, ctx }) => {
          const message: Message = { id: randomUUID(), room: input.room, author: ctx.user, text: input.text, sentAt: new Date() };
          await rooms.publish(input.room, message);
          await touch(input.room);
          return message;
        }),

      /**
       * An image to the room: its bytes (at most MAX_IMAGE_BYTES, a PNG,
       * JPEG, GIF or WebP, checked by their signature) and its alt text,
       * delivered to the room as bytes, kept in history and replayed on
       * resume like any message. It answers with the message's id and time,
       * not the image: a keyed mutation's answer is stored for its repeats,
       * and the image is already in the room.
       */
      sendImage: authed
        .input(z.object({ room: RoomName, image: ChatImage }))
        .mutation(async ({ input, ctx }) => {
          const message: Message = { id: randomUUID(), room: input.room, author: ctx.user, text: '', image: input.image, sentAt: new Date() };
          await rooms.publish(input.room, message);
          await touch(input.room);
          return { id: message.id, sentAt: message.sentAt };
        }),

      history: t.procedure
        .input(OlderHistoryInput)
        .query(async ({ input }) =>
          input.before ? olderThan(input.room, input.before, input.limit) : (await latest(input.room, input.limit)).messages,
        ),

      /**
       * The room's newest messages and the stream position they end at: pass
       * `position` as `lastEventId` to `chat.onMessage` and the subscription
       * continues exactly after the snapshot, with nothing lost or doubled.
       */
      snapshot: t.procedure
        .input(HistoryInput)
        .query(({ input }) => latest(input.room, input.limit)),

      onMessage: t.procedure
        .input(z.object({ room: RoomName, ...resumeInput }))
        .subscription(({ input, ctx, signal }) =>
          // A signed-in member joins the room's presence; `onPresenceChange` tells `chat.onRooms`.
          rooms.stream(input.room, { lastEventId: input.lastEventId, signal, presence: ctx.user ?? undefined }),
        ),

      /**
       * Every room with activity in the last ROOM_INDEX_SIZE events: its name,
       * the messages it keeps (its history, at most `historySize`) and who is
       * in it now, by name. A live query: `chat.onRooms` is its live form.
       */
      rooms: roomList,

      /** `chat.rooms`' result now and after every change, tracked by version (`lastEventId` resumes). */
      onRooms: t.procedure
        .input(z.object(resumeInput).optional())
        .subscription(({ input, ctx, signal }) => roomListLive.stream(undefined, { ctx, lastEventId: input?.lastEventId, signal })),

      members: t.procedure.input(z.object({ room: RoomName })).query(({ input }) => rooms.members(input.room)),

      onPresence: t.procedure
        .input(z.object({ room: RoomName }))
        .subscription(({ input, signal }) => rooms.presenceEvents(input.room, { signal })),
    }),

    notices: t.router({
      /** A notice from the caller to the user `userId`: it reaches each of that user's connections, on every node. */
      nudge: authed
        .input(z.object({ userId: User.shape.id, text: z.string().trim().min(1).max(200) }))
        .mutation(async ({ input, ctx }) => {
          const notice: Notice = { id: randomUUID(), from: ctx.user, text: input.text, sentAt: new Date() };
          await notices.send(input.userId, notice);
          return notice;
        }),

      /** The caller's own notices, resumable like a room; no one else's can be asked for. */
      onNotice: authed
        .input(z.object({ ...resumeInput }))
        .subscription(({ input, ctx, signal }) => notices.stream(ctx.user.id, { lastEventId: input.lastEventId, signal })),
    }),

    system: t.router({
      health: t.procedure.query(() => ({ uptimeMs: Date.now() - deps.startedAt, nodeId: herald.nodeId })),
    }),
  });
}

export type AppRouter = ReturnType<typeof createChatRouter>;
