/**
 * How live query results reach Herald WebSockets: serialized once per node
 * for every subscriber of an input, and checked again at once when a
 * connection's credentials are refreshed in band. Real sockets, both
 * clients; waits are on events (each received result), bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createHerald, createHeraldServer, memoryBroker, resumeInput, transformer } from '@herald/server';
import { createHeraldClient } from '@herald/client';
import { Cleanup, CLIENT_KINDS, expiringToken, expiringTokenAuth, makeClient, rawSocket, request, withTimeout, type TestUser } from '@herald/test-kit';
import { counterBump, Watcher } from './helpers/liveWatcher.js';

interface Ctx {
  readonly user: TestUser | null;
}

/**
 * A counter app whose results count how often they are serialized: each
 * result has a getter that superjson reads once per serialization. Counters
 * named `secret` are for admins.
 */
function createApp() {
  const herald = createHerald({ broker: memoryBroker() });
  const counters = herald.channel('counters', { key: z.string().min(1), message: z.object({ total: z.number() }) });
  const store = new Map<string, number>();
  const reads = { count: 0 };
  const t = initTRPC.context<Ctx>().create({ transformer });
  const total = t.procedure.input(z.object({ counter: z.string().min(1) })).query(({ input, ctx }) => {
    if (input.counter === 'secret' && ctx.user?.role !== 'admin') throw new TRPCError({ code: 'FORBIDDEN', message: 'admins only' });
    const value = store.get(input.counter) ?? 0;
    // Forty names that stay put, except on the `churn` counter where every one changes with the total.
    const names = Array.from({ length: 40 }, (_, i) => `${input.counter}-member-${i}-${input.counter === 'churn' ? value : 0}`);
    return {
      counter: input.counter,
      get total() {
        reads.count++;
        return value;
      },
      names,
      // A Date, which the transformer writes with `meta`: patches carry it too.
      updatedAt: new Date(Date.UTC(2026, 0, 1) + value * 1_000),
    };
  });
  const totalLive = herald.live(total, {
    name: 'total',
    dependsOn: (input) => [counters.key(input.counter)],
    shareBy: (ctx: Ctx) => ctx.user?.role ?? '',
  });
  const router = t.router({
    total,
    onTotal: t.procedure
      .input(z.object({ counter: z.string().min(1), ...resumeInput }))
      .subscription(({ input, ctx, signal }) => totalLive.stream({ counter: input.counter }, { ctx, lastEventId: input.lastEventId, signal })),
  });
  return { herald, router, reads, bump: counterBump(store, counters) };
}
type AppRouter = ReturnType<typeof createApp>['router'];

async function startApp(cleanup: Cleanup, auth: boolean) {
  const { herald, router, reads, bump } = createApp();
  const server = await createHeraldServer({
    router,
    herald,
    port: 0,
    host: '127.0.0.1',
    limits: { rate: false },
    ...(auth ? { authenticate: expiringTokenAuth, auth: { expiryGraceMs: 1_000 } } : {}),
    createContext: ({ user }: { user: TestUser | null }): Ctx => ({ user }),
  });
  cleanup.defer(async () => {
    await server.close();
    await herald.close();
  });
  return { server, reads, bump };
}

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('live results on Herald WebSockets', () => {
  it('serializes a result once per node, however many subscribers of the input there are', async () => {
    const app = await startApp(cleanup, false);
    const watchers: Watcher[] = [];
    const subscribe = () => {
      for (const kind of CLIENT_KINDS) {
        const client = makeClient<AppRouter>(kind, app.server.url);
        cleanup.defer(() => client.close());
        const watcher = new Watcher();
        client.trpc.onTotal.subscribe({ counter: 'c' }, { onData: watcher.onData, onError: watcher.onError });
        watchers.push(watcher);
      }
    };
    subscribe();
    for (const watcher of watchers) await watcher.until(() => watcher.last?.total === 0, 'the first result');
    // One serialization: the reads of one result's getter.
    const before = app.reads.count;
    await app.bump('c');
    for (const watcher of watchers) await watcher.until(() => watcher.last?.total === 1, 'the result after one publish');
    const perSerialization = app.reads.count - before;
    expect(perSerialization).toBeGreaterThan(0);

    // Four times the subscribers (both client kinds): still one serialization per result.
    for (let i = 0; i < 3; i++) subscribe();
    for (const watcher of watchers) await watcher.until(() => watcher.last?.total === 1, 'the current result for a new subscriber');
    const again = app.reads.count;
    await app.bump('c');
    for (const watcher of watchers) await watcher.until(() => watcher.last?.total === 2, 'the result after the second publish');
    expect(app.reads.count - again).toBe(perSerialization);
    for (const watcher of watchers) expect(watcher.versionsIncrease()).toBe(true);
    expect(new Set(watchers.map((watcher) => watcher.last!.id)).size).toBe(1);
  });
});

describe('a credentials refresh on an open socket', () => {
  it('checks live queries again at once: one that lost access ends with the refusal, the others go on', async () => {
    const app = await startApp(cleanup, true);
    let role = 'admin';
    const client = createHeraldClient<AppRouter>({
      url: app.server.url,
      connectionParams: () => ({ token: expiringToken('ada', 400), role }),
      backoff: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    cleanup.add(client);
    const secret = new Watcher();
    const open = new Watcher();
    client.trpc.onTotal.subscribe({ counter: 'secret' }, { onData: secret.onData, onError: secret.onError });
    client.trpc.onTotal.subscribe({ counter: 'open' }, { onData: open.onData, onError: open.onError });
    await secret.until(() => secret.results.length === 1, 'the secret counter as admin');
    await open.until(() => open.results.length === 1, 'the open counter');

    role = 'member';
    // No publish, so no recompute: only the refresh (about 300 ms on) can end it.
    await secret.until(() => secret.error !== null, 'the secret counter refused after the refresh', 5_000);
    expect((secret.error as { data?: { code?: string } }).data?.code).toBe('FORBIDDEN');

    await app.bump('open');
    await app.bump('secret');
    await open.until(() => open.last?.total === 1, 'the open counter after the refresh');
    expect(open.error).toBeNull();
    expect(secret.results.map((result) => result.total)).toEqual([0]);
  });
});

interface RawResult {
  readonly type?: string;
  readonly id?: string;
  readonly base?: string;
  readonly data?: unknown;
  readonly patch?: unknown[];
  readonly livePatches?: boolean;
}
/** A subscription request as Herald's client sends it on a JSON connection: asking for patches. */
function askingForPatches(subscription: object): object {
  const { params } = subscription as { params: object };
  return { ...subscription, params: { ...params, livePatches: true } };
}
const resultOfFrame = (frame: unknown): RawResult | undefined => (frame as { id?: unknown; result?: RawResult }).result;

describe('live query patches', () => {
  it('sends a patch to a client that asks, from the version it last got, and whole results to one that does not', async () => {
    const app = await startApp(cleanup, false);
    const asking = rawSocket(app.server.url);
    const plain = rawSocket(app.server.url);
    cleanup.defer(() => asking.close());
    cleanup.defer(() => plain.close());
    await Promise.all([asking.opened, plain.opened]);
    asking.send(askingForPatches(request(1, 'subscription', 'onTotal', { counter: 'p' })));
    plain.send(request(1, 'subscription', 'onTotal', { counter: 'p' }));
    const started = await asking.frame((frame) => resultOfFrame(frame)?.type === 'started');
    expect(resultOfFrame(started)?.livePatches).toBe(true);
    expect(resultOfFrame(await plain.frame((frame) => resultOfFrame(frame)?.type === 'started'))?.livePatches).toBeUndefined();
    const first = resultOfFrame(await asking.frame((frame) => resultOfFrame(frame)?.type === 'data'))!;
    await plain.frame((frame) => resultOfFrame(frame)?.id === first.id);

    await app.bump('p');
    const patch = resultOfFrame(await asking.frame((frame) => resultOfFrame(frame)?.type === 'patch'))!;
    expect(patch.base).toBe(first.id);
    const whole = resultOfFrame(await plain.frame((frame) => resultOfFrame(frame)?.id === patch.id))!;
    expect(whole.type).toBe('data');
    // The patch is far smaller than the whole result: the total, the date and the version.
    expect(JSON.stringify(patch.patch).length * 2).toBeLessThan(JSON.stringify(whole.data).length);

    // A result that changes everywhere goes whole, to both.
    asking.send(askingForPatches(request(2, 'subscription', 'onTotal', { counter: 'churn' })));
    const churnFirst = await asking.frame((frame) => (frame as { id?: number }).id === 2 && resultOfFrame(frame)?.type === 'data');
    await app.bump('churn');
    const churned = await asking.frame((frame) => (frame as { id?: number }).id === 2 && frame !== churnFirst && resultOfFrame(frame)?.id !== undefined);
    expect(resultOfFrame(churned)?.type).toBe('data');
  });

  it("gives Herald's client (patched) and the stock client (whole) the same results, revived alike", async () => {
    const app = await startApp(cleanup, false);
    const seen = new Map<string, Map<string, unknown>>();
    const waiters = new Set<() => void>();
    for (const kind of CLIENT_KINDS) {
      const client = makeClient<AppRouter>(kind, app.server.url);
      cleanup.defer(() => client.close());
      for (const counter of ['p', 'churn']) {
        const results = new Map<string, unknown>();
        seen.set(`${kind}:${counter}`, results);
        client.trpc.onTotal.subscribe(
          { counter },
          {
            onData: (event) => {
              results.set(event.id, event.data);
              for (const waiter of [...waiters]) waiter();
            },
          },
        );
      }
    }
    const totalsReach = (total: number) =>
      withTimeout(
        new Promise<void>((resolve) => {
          const check = () => {
            const done = [...seen.values()].every((results) => [...results.values()].some((data) => (data as { total: number }).total === total));
            if (done) {
              waiters.delete(check);
              resolve();
            }
          };
          waiters.add(check);
          check();
        }),
        10_000,
        `every subscriber at total ${total}`,
      );
    await totalsReach(0);
    const rounds = 15;
    for (let round = 1; round <= rounds; round++) {
      await Promise.all([app.bump('p'), app.bump('churn')]);
      await totalsReach(round);
    }
    for (const counter of ['p', 'churn']) {
      const patched = seen.get(`herald:${counter}`)!;
      const whole = seen.get(`stock:${counter}`)!;
      // Every version the Herald client showed is the stock client's result of that version, to the byte and the Date.
      for (const [version, data] of patched) {
        if (whole.has(version)) expect(data).toEqual(whole.get(version));
        expect((data as { updatedAt: unknown }).updatedAt).toBeInstanceOf(Date);
      }
      const versions = [...patched.keys()];
      expect(versions.every((version, i) => i === 0 || BigInt(version) > BigInt(versions[i - 1]!))).toBe(true);
    }
  });
});
