import { describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { startChatServer, type AppRouter } from '@herald/example-chat-server';

describe('smoke', () => {
  it('logs in and sends', async () => {
    const chat = await startChatServer({ port: 0, host: '127.0.0.1' });
    const c = createHeraldClient<AppRouter>({ url: chat.server.url });
    const { token } = await c.trpc.auth.login.mutate({ name: 'ann' });
    const c2 = createHeraldClient<AppRouter>({ url: chat.server.url, connectionParams: { token } });
    const m = await c2.trpc.chat.send.mutate({ room: 'r1', text: 'hi' });
    expect(m.sentAt).toBeInstanceOf(Date);
    const h = await c2.trpc.chat.history.query({ room: 'r1' });
    expect(h.map((x) => x.text)).toEqual(['hi']);
    await c.close(); await c2.close();
    await chat.close();
  });
});
