import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import type { AppRouter, ChatServer } from '@herald/example-chat-server';
import { Cleanup, FAST_BACKOFF, heraldClient, metricValue, pollUntil, scrape } from '@herald/test-kit';
import { loginToken, startTestServer, subscribeRoom, type RoomSubscription } from '../../chat-server/test/helpers/chat.js';
import { replyTo, startEchoBot, type EchoBot } from '../src/bot.js';
import { refreshingCredentials } from '../src/credentials.js';

describe('replyTo', () => {
  const now = () => new Date('2030-01-02T03:04:05.678Z');

  it('echoes the text after /echo', () => {
    expect(replyTo('/echo hello there', now)).toBe('hello there');
    expect(replyTo('  /echo   spaced  out  ', now)).toBe('spaced  out');
    expect(replyTo('/echo line one\nline two', now)).toBe('line one\nline two');
    expect(replyTo('/echo /time', now)).toBe('/time');
  });

  it('tells the time for /time', () => {
    expect(replyTo('/time', now)).toBe('The time is 2030-01-02T03:04:05.678Z');
    expect(replyTo('  /time ', now)).toBe('The time is 2030-01-02T03:04:05.678Z');
  });

  it('stays quiet for anything else', () => {
    for (const text of ['hello', '', '   ', '/echo', '/echo   ', '/echoes hi', '/time please', '/times', 'say /echo hi', '/TIME']) {
      expect(replyTo(text, now), JSON.stringify(text)).toBeNull();
    }
  });
});

describe('echo bot against a real chat server', () => {
  const ROOM = 'bots';
  const cleanup = new Cleanup();
  let chat: ChatServer;
  let bot: EchoBot;
  let botReplies: string[];
  let botErrors: unknown[];

  beforeEach(async () => {
    chat = cleanup.add(await startTestServer());
    botReplies = [];
    botErrors = [];
    bot = cleanup.add(
      await startEchoBot({
        url: chat.server.url,
        room: ROOM,
        onReply: (text) => botReplies.push(text),
        onError: (error) => botErrors.push(error),
      }),
    );
  });
  afterEach(() => cleanup.run());

  /** A logged-in user subscribed to the room, once the bot is listening too. */
  async function userInRoom(): Promise<{ send: (text: string) => Promise<unknown>; room: RoomSubscription }> {
    const { token } = await loginToken(chat.server.url, 'alice');
    const user = cleanup.add(heraldClient<AppRouter>(chat.server.url, { token }));
    const room = subscribeRoom(user.trpc, ROOM);
    await room.waitForLive();
    // The bot's subscription joins the room's presence once it is live, so nothing sent from now on is missed.
    await pollUntil(async () => (await user.trpc.chat.members.query({ room: ROOM })).some((member) => member.info.id === bot.userId), 'the bot to join the room');
    return { send: (text) => user.trpc.chat.send.mutate({ room: ROOM, text }), room };
  }

  const botMessages = (room: RoomSubscription) => room.messages().filter((m) => m.author.id === bot.userId);

  it('answers /echo and /time through the room', async () => {
    const { send, room } = await userInRoom();

    await send('/echo hello there');
    await room.until((events) => events.some((e) => e.type === 'message' && e.message.author.id === bot.userId), 5_000, 'the echo');
    expect(botMessages(room).map((m) => m.text)).toEqual(['hello there']);
    expect(botMessages(room)[0]?.author.name).toBe('echo-bot');

    const before = Date.now();
    await send('/time');
    await room.until(() => botMessages(room).length === 2, 5_000, 'the time');
    const timeReply = botMessages(room)[1]?.text ?? '';
    expect(timeReply).toMatch(/^The time is /);
    const iso = timeReply.slice('The time is '.length);
    const stamp = new Date(iso);
    expect(stamp.toISOString()).toBe(iso);
    expect(stamp.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(stamp.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);

    // onReply runs when the bot's send resolves, which may be after the room saw the reply.
    await pollUntil(() => botReplies.length === 2, 'onReply for both');
    expect(botReplies).toEqual(['hello there', timeReply]);
    expect(botErrors).toEqual([]);
  });

  it('ignores plain text and its own messages', async () => {
    const { send, room } = await userInRoom();

    await send('just chatting');
    // The bot's reply is the command text "/time": answering itself would add a time announcement.
    await send('/echo /time');
    await room.until(() => botMessages(room).length === 1, 5_000, 'the echoed command');
    // The bot gets this after its own "/time", so once this is answered, that one has been handled.
    await send('/echo done');
    await room.until(() => botMessages(room).some((m) => m.text === 'done'), 5_000, 'the last echo');

    expect(botMessages(room).map((m) => m.text)).toEqual(['/time', 'done']);
    expect(room.messages().map((m) => m.text)).toEqual(['just chatting', '/echo /time', '/time', '/echo done', 'done']);
    await pollUntil(() => botReplies.length === 2, 'onReply for both');
    expect(botReplies).toEqual(['/time', 'done']);
    expect(botErrors).toEqual([]);
  });
});

describe('echo bot with short-lived tokens', () => {
  const ROOM = 'bots';
  /** Tokens good for 2 s; a connection whose token is not refreshed ends 300 ms after it expires. */
  const TTL_S = 2;
  const GRACE_MS = 300;
  /** Four token lifetimes plus the grace: a bot that did not refresh would have been cut off and reconnected by then. */
  const RUN_MS = 4 * TTL_S * 1000 + GRACE_MS;
  /** Time between two rounds of the conversation: it spans the lifetimes at a steady pace. */
  const ROUND_MS = 500;
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('keeps answering on the one socket past several token lifetimes: its token is refreshed in-band', async () => {
    const chat = cleanup.add(await startTestServer({ tokenTtlSeconds: TTL_S, auth: { expiryGraceMs: GRACE_MS } }));
    const botErrors: unknown[] = [];
    const bot = cleanup.add(await startEchoBot({ url: chat.server.url, room: ROOM, onError: (error) => botErrors.push(error) }));

    // Alice talks to the bot through a client that refreshes the same way.
    const alice = await loginToken(chat.server.url, 'alice');
    const aliceErrors: unknown[] = [];
    const client = createHeraldClient<AppRouter>({
      url: chat.server.url,
      connectionParams: refreshingCredentials({ urls: [chat.server.url], token: alice.token, onRefused: (error) => aliceErrors.push(error) }),
      onRefreshError: (error) => aliceErrors.push(error),
      backoff: FAST_BACKOFF,
    });
    cleanup.add(client);
    const room = subscribeRoom(client.trpc, ROOM);
    await room.waitForLive();
    await pollUntil(async () => (await client.trpc.chat.members.query({ room: ROOM })).some((member) => member.info.id === bot.userId), 'the bot to join the room');
    const opened = metricValue(await scrape(chat.server), 'herald_connections_opened_total');

    const botReplies = () => room.messages().filter((m) => m.author.id === bot.userId).map((m) => m.text);
    const deadline = Date.now() + RUN_MS;
    let rounds = 0;
    // The real clock is the point: the tokens must run out several times while the bot works.
    while (Date.now() < deadline && rounds < 100) {
      rounds++;
      await client.trpc.chat.send.mutate({ room: ROOM, text: `/echo round ${rounds}` });
      await room.until(() => botReplies().length === rounds, 5_000, `the bot's answer to round ${rounds}`);
      await new Promise((resolve) => setTimeout(resolve, ROUND_MS));
    }

    expect(rounds).toBeGreaterThanOrEqual(RUN_MS / (ROUND_MS + 100));
    expect(botReplies()).toEqual(Array.from({ length: rounds }, (_, i) => `round ${i + 1}`));
    // No connection was opened meanwhile: both kept their sockets, refreshing in-band.
    expect(metricValue(await scrape(chat.server), 'herald_connections_opened_total')).toBe(opened);
    expect(client.connection.current.status).toBe('open');
    expect(botErrors).toEqual([]);
    expect(aliceErrors).toEqual([]);
  }, 30_000);
});
