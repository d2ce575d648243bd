import { afterEach, describe, expect, it } from 'vitest';
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createHerald, createHeraldServer, heraldErrorFormatter, memoryBroker, resumeInput, transformer, type Broker, type HeraldContextOptions } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { heraldInternals } from '../src/herald.js';
import { Cleanup, deletePrefix, recordChannel, REDIS_URL, redisAvailable, served, stockClient, testPrefix } from '@herald/test-kit';

/**
 * `herald.connectionChannel`: messages to one connection (the id
 * `createContext` is given), to its subscriptions on whichever node it is,
 * in order, once, resumable; never to the user's other connections; the
 * stream is the caller's own (its key comes from the context), and
 * `authorize` is not asked.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());
const redisUp = await redisAvailable();

interface Ctx {
  readonly user: string | null;
  readonly connectionId: string;
}

function createDirectApp(broker: Broker) {
  // An authorize that refuses every channel call: a connection channel does not ask it.
  const herald = createHerald({ broker, authorize: () => false, onError: () => undefined });
  const direct = herald.connectionChannel('direct', { message: z.object({ text: z.string().max(200) }) });
  const t = initTRPC.context<Ctx>().create({ transformer, errorFormatter: heraldErrorFormatter });
  const authed = t.procedure.use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED' });
    return next({ ctx: { user: ctx.user, connectionId: ctx.connectionId } });
  });
  const router = t.router({
    me: authed.query(({ ctx }) => ctx.connectionId),
    tell: authed.input(z.object({ connectionId: z.string(), text: z.string() })).mutation(({ input }) => direct.send(input.connectionId, { text: input.text })),
    onDirect: authed.input(z.object({ ...resumeInput })).subscription(({ ctx, input, signal }) => direct.stream(ctx.connectionId, { lastEventId: input.lastEventId, signal })),
  });
  return { herald, direct, router };
}
type DirectRouter = ReturnType<typeof createDirectApp>['router'];

/** A node of the app on `broker`: the user from the connection params, the connection's id from Herald. */
async function startNode(broker: Broker) {
  const app = createDirectApp(broker);
  const createContext = ({ connectionParams, connectionId }: HeraldContextOptions<never>): Ctx => ({ user: connectionParams?.['user'] ?? null, connectionId });
  const server = await createHeraldServer({ router: app.router, herald: app.herald, createContext, port: 0, host: '127.0.0.1', metrics: false });
  cleanup.add(served(app, server));
  return { ...app, server };
}

/** A connection of `user` to `url`: its id (as the server's context has it) and its direct messages. */
async function connectionOf(url: string, user: string, lastEventId?: string) {
  const client = cleanup.add(stockClient<DirectRouter>(url, { user }));
  const id = await client.trpc.me.query();
  const direct = recordChannel<{ text: string }>((handlers) => client.trpc.onDirect.subscribe(lastEventId ? { lastEventId } : {}, handlers));
  cleanup.defer(() => direct.unsubscribe());
  await direct.waitForLive();
  return { client, id, direct };
}

describe('herald.connectionChannel', () => {
  it("reaches one connection, not its user's other connection on the same node", async () => {
    const node = await startNode(memoryBroker());
    const first = await connectionOf(node.server.url, 'ann');
    const second = await connectionOf(node.server.url, 'ann');
    expect(first.id).not.toBe(second.id);

    await second.client.trpc.tell.mutate({ connectionId: first.id, text: 'to the first tab' });
    expect(await first.direct.waitForMessages(1)).toEqual([{ text: 'to the first tab' }]);
    // Sent after the first one through the same broker: the second connection's first message is its own.
    await node.direct.send(second.id, { text: 'to the second tab' });
    expect(await second.direct.waitForMessages(1)).toEqual([{ text: 'to the second tab' }]);
    expect(first.direct.messages()).toEqual([{ text: 'to the first tab' }]);
    expect(second.direct.messages()).toEqual([{ text: 'to the second tab' }]);
  });

  it.skipIf(!redisUp)('reaches a connection on another node through Redis, and only it', async () => {
    const prefix = testPrefix();
    cleanup.defer(() => deletePrefix(REDIS_URL, prefix));
    const one = await startNode(redisBroker({ url: REDIS_URL, prefix, onError: () => undefined }));
    const two = await startNode(redisBroker({ url: REDIS_URL, prefix, onError: () => undefined }));
    const onOne = await connectionOf(one.server.url, 'ann');
    const onTwo = await connectionOf(two.server.url, 'ann');

    // Sent on node two to the connection on node one, in order.
    await two.direct.send(onOne.id, { text: 'a' });
    await onTwo.client.trpc.tell.mutate({ connectionId: onOne.id, text: 'b' });
    expect(await onOne.direct.waitForMessages(2)).toEqual([{ text: 'a' }, { text: 'b' }]);
    await one.direct.send(onTwo.id, { text: 'c' });
    expect(await onTwo.direct.waitForMessages(1)).toEqual([{ text: 'c' }]);
    expect(onTwo.direct.messages()).toEqual([{ text: 'c' }]);
    expect(onOne.direct.messages()).toEqual([{ text: 'a' }, { text: 'b' }]);
  });

  it('resumes a subscription restarted on the same connection after its last position', async () => {
    const node = await startNode(memoryBroker());
    const tab = await connectionOf(node.server.url, 'ann');
    const first = await node.direct.send(tab.id, { text: 'first' });
    await tab.direct.waitForMessages(1);
    tab.direct.unsubscribe();
    await node.direct.send(tab.id, { text: 'second' });
    const resumed = recordChannel<{ text: string }>((handlers) => tab.client.trpc.onDirect.subscribe({ lastEventId: first }, handlers));
    cleanup.defer(() => resumed.unsubscribe());
    expect(await resumed.waitForMessages(1)).toEqual([{ text: 'second' }]);
    expect((await node.direct.history(tab.id)).messages.map(({ message }) => message.text)).toEqual(['first', 'second']);
  });

  it('refuses a message its schema refuses, and a name declared twice', async () => {
    const { herald, direct } = createDirectApp(memoryBroker());
    cleanup.defer(() => herald.close());
    await expect(direct.send('c-1', { text: 'x'.repeat(201) })).rejects.toThrow(/too_big|Too big|at most/i);
    expect(() => herald.connectionChannel('direct', { message: z.object({}) })).toThrow(/Connection channel "direct" is declared twice/);
    // Its own namespace: a user channel of the same name is another channel.
    expect(herald.userChannel('direct', { message: z.object({}) }).name).toBe('direct');
    expect(() => herald.userChannel('direct', { message: z.object({}) })).toThrow(/User channel "direct" is declared twice/);
  });

  it('records each private channel’s retention, which the admin page reads its history with', () => {
    const herald = createHerald();
    cleanup.defer(() => herald.close());
    herald.connectionChannel('direct', { message: z.string() });
    herald.userChannel('notices', { message: z.string(), history: { size: 10 } });
    const { retentions } = heraldInternals(herald)!;
    expect(retentions.get('@connection.direct')).toEqual({ size: 100, ttlMs: 300_000 });
    expect(retentions.get('@user.notices')).toEqual({ size: 10, ttlMs: 86_400_000 });
  });
});
