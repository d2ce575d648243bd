/**
 * Sign-in names on the server: normalised (NFKC, spaces), refused with a
 * plain message when they hold text-direction or invisible characters, and
 * the same name is the same user on every sign-in (so a user's outbox is
 * found again); `chat.history` pages back with `before`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatServer } from '@herald/example-chat-server';
import { stockClient } from '@herald/test-kit';
import type { AppRouter } from '@herald/example-chat-server';
import { startTestServer } from './helpers/chat.js';

describe('sign-in names and older history', () => {
  let chat: ChatServer;
  let client: ReturnType<typeof stockClient<AppRouter>>;

  beforeAll(async () => {
    chat = await startTestServer();
    client = stockClient<AppRouter>(chat.server.url);
  });
  afterAll(async () => {
    await client.close();
    await chat.close();
  });

  const login = (name: string) => client.trpc.auth.login.mutate({ name });
  const refusal = async (name: string) => {
    const error = await login(name).then(
      () => null,
      (caught: unknown) => caught as { data?: { code?: string; zodIssues?: { message: string }[] } },
    );
    return { code: error?.data?.code, message: error?.data?.zodIssues?.[0]?.message };
  };

  it('normalises the name and keeps one user per name, whatever its case or width', async () => {
    const first = await login('  Ann   Lee ');
    expect(first.user.name).toBe('Ann Lee');
    const again = await login('ann lee');
    const wide = await login('Ａｎｎ Ｌｅｅ');
    expect(wide.user.name).toBe('Ann Lee');
    expect(again.user.id).toBe(first.user.id);
    expect(wide.user.id).toBe(first.user.id);
    expect((await login('Bob')).user.id).not.toBe(first.user.id);
  });

  it.each([
    ['\u202Eevil\u202C admin', 'U+202E'],
    ['ad\u200Bmin', 'U+200B'],
    ['\u2066Ann', 'U+2066'],
    ['A\uFEFFnn', 'U+FEFF'],
    ['tab\there', 'U+0009'],
  ])('refuses %j, naming the character (%s)', async (name, code) => {
    const { code: trpcCode, message } = await refusal(name);
    expect(trpcCode).toBe('BAD_REQUEST');
    expect(message).toMatch(new RegExp(`invisible or text-direction characters \\(found ${code.replace('+', '\\+')}\\)`));
  });

  it('refuses a name that is empty or too long once normalised', async () => {
    expect((await refusal('   ')).message).toBe('Type a name to join.');
    expect((await refusal('x'.repeat(33))).message).toBe('Names are at most 32 characters.');
  });

  it('pages back through a room with `before`', async () => {
    const { token } = await login('Pager');
    const author = stockClient<AppRouter>(chat.server.url, { token });
    try {
      for (let i = 1; i <= 30; i++) await author.trpc.chat.send.mutate({ room: 'paged', text: `m${i}` });
    } finally {
      await author.close();
    }
    const newest = await client.trpc.chat.history.query({ room: 'paged', limit: 10 });
    expect(newest.map((m) => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${21 + i}`));
    const older = await client.trpc.chat.history.query({ room: 'paged', limit: 10, before: newest[0]?.id ?? '' });
    expect(older.map((m) => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${11 + i}`));
    const first = await client.trpc.chat.history.query({ room: 'paged', limit: 50, before: older[0]?.id ?? '' });
    expect(first.map((m) => m.text)).toEqual(Array.from({ length: 10 }, (_, i) => `m${1 + i}`));
    expect(await client.trpc.chat.history.query({ room: 'paged', before: 'no-such-id' })).toEqual([]);
  });
});
