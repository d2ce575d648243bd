import { afterEach, describe, expect, it } from 'vitest';
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createHerald, createHeraldServer, heraldErrorFormatter, memoryBroker, resumeInput, transformer, type Broker } from '@herald/server';
import { Cleanup, recordChannel, stockClient } from '@herald/test-kit';

/**
 * `herald.userChannel`: messages to one user, on every node, to each of the
 * user's subscriptions, in order, once, resumable; the stream is the
 * caller's own (its key comes from the context), and `authorize` is not asked.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function createNoticeApp(broker: Broker) {
  // An authorize that refuses every channel call: a user channel does not ask it.
  const herald = createHerald({ broker, authorize: () => false });
  const notices = herald.userChannel('notices', { message: z.object({ text: z.string().max(200) }) });
  const t = initTRPC.context<{ user: string | null }>().create({ transformer, errorFormatter: heraldErrorFormatter });
  const authed = t.procedure.use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED' });
    return next({ ctx: { user: ctx.user } });
  });
  const router = t.router({
    notify: authed.input(z.object({ to: z.string(), text: z.string() })).mutation(({ input }) => notices.send(input.to, { text: input.text })),
    onNotice: authed.input(z.object({ ...resumeInput })).subscription(({ ctx, input, signal }) => notices.stream(ctx.user, { lastEventId: input.lastEventId, signal })),
  });
  return { herald, notices, router };
}

async function startNode(broker: Broker) {
  const app = createNoticeApp(broker);
  const server = await createHeraldServer({
    router: app.router,
    herald: app.herald,
    port: 0,
    host: '127.0.0.1',
    metrics: false,
    createContext: ({ connectionParams }) => ({ user: connectionParams?.['user'] ?? null }),
  });
  cleanup.defer(async () => {
    await server.close();
    await app.herald.close();
  });
  return { ...app, server };
}

type NoticeRouter = ReturnType<typeof createNoticeApp>['router'];

function noticesOf(url: string, user: string, lastEventId?: string) {
  const client = cleanup.add(stockClient<NoticeRouter>(url, { user }));
  const notices = recordChannel<{ text: string }>((handlers) => client.trpc.onNotice.subscribe(lastEventId ? { lastEventId } : {}, handlers));
  cleanup.defer(() => notices.unsubscribe());
  return { client, notices };
}

describe('herald.userChannel', () => {
  it("reaches each of the user's subscriptions on every node, in order, once, and no one else's", async () => {
    const broker = memoryBroker();
    const a = await startNode(broker);
    const b = await startNode(broker);
    const annOnA = noticesOf(a.server.url, 'ann');
    const annOnB = noticesOf(b.server.url, 'ann');
    const bob = noticesOf(b.server.url, 'bob');
    await Promise.all([annOnA.notices.waitForLive(), annOnB.notices.waitForLive(), bob.notices.waitForLive()]);

    // Sent through either node (and from server code, with no caller at all).
    await bob.client.trpc.notify.mutate({ to: 'ann', text: 'one' });
    await a.notices.send('ann', { text: 'two' });
    await b.notices.send('bob', { text: 'for bob' });
    for (const ann of [annOnA, annOnB]) expect(await ann.notices.waitForMessages(2)).toEqual([{ text: 'one' }, { text: 'two' }]);
    // Bob's first message is his own: ann's never reached him.
    expect(await bob.notices.waitForMessages(1)).toEqual([{ text: 'for bob' }]);
    await annOnA.client.trpc.notify.mutate({ to: 'ann', text: 'three' });
    expect(await annOnB.notices.waitForMessages(3)).toEqual([{ text: 'one' }, { text: 'two' }, { text: 'three' }]);
    expect(annOnB.notices.messages()).toHaveLength(3);
  });

  it('resumes after a position, as a channel does, and keeps history per user', async () => {
    const node = await startNode(memoryBroker());
    const first = await node.notices.send('ann', { text: 'first' });
    await node.notices.send('ann', { text: 'second' });
    await node.notices.send('bob', { text: 'not ann' });
    const resumed = noticesOf(node.server.url, 'ann', first);
    expect(await resumed.notices.waitForMessages(1)).toEqual([{ text: 'second' }]);
    expect((await node.notices.history('ann')).messages.map(({ message }) => message.text)).toEqual(['first', 'second']);
  });

  it('refuses a message its schema refuses, and a name declared twice', async () => {
    const { herald, notices } = createNoticeApp(memoryBroker());
    cleanup.defer(() => herald.close());
    await expect(notices.send('ann', { text: 'x'.repeat(201) })).rejects.toThrow(/too_big|Too big|at most/i);
    expect(() => herald.userChannel('notices', { message: z.object({}) })).toThrow(/User channel "notices" is declared twice/);
    // Its own namespace: an app channel of the same name is another channel.
    expect(herald.channel('notices', { key: z.string(), message: z.object({}) }).name).toBe('notices');
  });
});
