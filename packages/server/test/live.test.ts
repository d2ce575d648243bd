/**
 * Live queries (`herald.live`) over real sockets: Herald's client and tRPC's
 * stock client subscribe to the live form of one query, on one node and on
 * several nodes sharing one Redis. Waits are on events (each received
 * result), bounded by `withTimeout`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createHerald, createHeraldServer, memoryBroker, resumeInput, transformer, type Broker } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { createFaultProxy } from '@herald/server/testing';
import { versionOf } from '../src/live/version.js';
import { redisTargets } from './helpers/redisTargets.js';
import { Cleanup, CLIENT_KINDS, heraldClient, IN_CI, makeClient, REDIS_URL, redisAvailable, testPrefix, type ClientKind } from '@herald/test-kit';
import { counterBump, Watcher } from './helpers/liveWatcher.js';

interface Ctx {
  readonly user: string | null;
}

/** One app instance (one node): a channel of counters, a "database" of totals, and a live query over both. */
function createCounterApp(broker: Broker, store: Map<string, number>, revoked: Set<string>) {
  const herald = createHerald({ broker });
  const counters = herald.channel('counters', { key: z.string().min(1), message: z.object({ total: z.number() }) });
  const t = initTRPC.context<Ctx>().create({ transformer });
  const stats = { runs: 0, running: 0, maxRunning: 0 };

  const member = t.procedure.use(({ ctx, next }) => {
    if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'no user' });
    if (revoked.has(ctx.user)) throw new TRPCError({ code: 'FORBIDDEN', message: `${ctx.user} may not read counters` });
    return next({ ctx: { user: ctx.user } });
  });
  const Input = z.object({ counter: z.string().min(1) });
  const total = member.input(Input).query(async ({ input }) => {
    stats.runs++;
    stats.running++;
    stats.maxRunning = Math.max(stats.maxRunning, stats.running);
    // A real read takes a turn of the event loop; publishes keep arriving meanwhile.
    await new Promise<void>((resolve) => setImmediate(resolve));
    stats.running--;
    return { counter: input.counter, total: store.get(input.counter) ?? 0 };
  });
  const totalLive = herald.live(total, {
    name: 'total',
    dependsOn: (input) => [counters.key(input.counter)],
    shareBy: (ctx: Ctx) => ctx.user ?? '',
  });
  const router = t.router({
    total,
    onTotal: member
      .input(z.object({ counter: z.string().min(1), ...resumeInput }))
      .subscription(({ input, ctx, signal }) => totalLive.stream({ counter: input.counter }, { ctx, lastEventId: input.lastEventId, signal })),
  });

  return { herald, router, stats, bump: counterBump(store, counters) };
}
type CounterRouter = ReturnType<typeof createCounterApp>['router'];

async function startNode(cleanup: Cleanup, broker: Broker, store: Map<string, number>, revoked = new Set<string>()) {
  const app = createCounterApp(broker, store, revoked);
  const server = await createHeraldServer({
    router: app.router,
    herald: app.herald,
    port: 0,
    host: '127.0.0.1',
    limits: { rate: false },
    createContext: ({ connectionParams }): Ctx => ({ user: connectionParams?.['user'] ?? null }),
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
    await app.herald.close();
  };
  cleanup.defer(close);
  return { ...app, server, close };
}

function subscribe(trpc: ReturnType<typeof makeClient<CounterRouter>>['trpc'], counter: string): Watcher {
  const watcher = new Watcher();
  trpc.onTotal.subscribe({ counter }, { onData: watcher.onData, onError: watcher.onError });
  return watcher;
}

const redisUp = await redisAvailable();
if (!redisUp && IN_CI) throw new Error(`live.test.ts needs Redis at ${REDIS_URL}`);
if (!redisUp) console.warn(`[live.test] Redis at ${REDIS_URL} does not answer: its suites are reported as skipped`);

const brokers: [string, (prefix: string) => Broker][] = [['memory', () => memoryBroker()]];
if (redisUp) brokers.push(['redis', (prefix) => redisBroker({ url: REDIS_URL, prefix })]);

describe.each(brokers)('a live query on one node (%s broker)', (_name, makeBroker) => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('coalesces a burst, shares one recompute, and leaves no subscriber stale after the last publish', async () => {
    const node = await startNode(cleanup, makeBroker(testPrefix()), new Map());
    const watchers: Watcher[] = [];
    for (const kind of [...CLIENT_KINDS, ...CLIENT_KINDS]) {
      const client = makeClient<CounterRouter>(kind, node.server.url, { user: 'ann' });
      cleanup.defer(() => client.close());
      watchers.push(subscribe(client.trpc, 'c'));
    }
    for (const watcher of watchers) await watcher.until(() => watcher.last?.total === 0, 'the first result');
    const runsBefore = node.stats.runs;

    const publishes = 200;
    await Promise.all(Array.from({ length: publishes }, () => node.bump('c')));
    for (const watcher of watchers) await watcher.until(() => watcher.last?.total === publishes, 'the result after the burst');

    // One input and one share key: one recompute at a time for all four subscribers, far fewer than one per publish.
    expect(node.stats.maxRunning).toBe(1);
    expect(node.stats.runs - runsBefore).toBeLessThanOrEqual(publishes);
    expect(node.stats.runs - runsBefore).toBeGreaterThanOrEqual(1);
    for (const watcher of watchers) {
      expect(watcher.versionsIncrease()).toBe(true);
      expect(watcher.error).toBeNull();
    }
    // Both client kinds got whole results with the same version.
    expect(new Set(watchers.map((watcher) => watcher.last!.id)).size).toBe(1);
  });

  it.each(CLIENT_KINDS)('ends a subscriber whose access is revoked with the query refusal (%s client)', async (kind: ClientKind) => {
    const revoked = new Set<string>();
    const node = await startNode(cleanup, makeBroker(testPrefix()), new Map(), revoked);
    const eve = makeClient<CounterRouter>(kind, node.server.url, { user: 'eve' });
    const bob = makeClient<CounterRouter>(kind, node.server.url, { user: 'bob' });
    cleanup.defer(() => eve.close());
    cleanup.defer(() => bob.close());
    const eveWatch = subscribe(eve.trpc, 'c');
    const bobWatch = subscribe(bob.trpc, 'c');
    await eveWatch.until(() => eveWatch.results.length === 1, 'eve first result');
    await bobWatch.until(() => bobWatch.results.length === 1, 'bob first result');

    revoked.add('eve');
    await node.bump('c');
    await eveWatch.until(() => eveWatch.error !== null, 'eve refused');
    expect((eveWatch.error as { data?: { code?: string } }).data?.code).toBe('FORBIDDEN');
    expect(eveWatch.results.map((r) => r.total)).toEqual([0]);

    await node.bump('c');
    await bobWatch.until(() => bobWatch.last?.total === 2, 'bob keeps receiving');
    expect(eveWatch.results).toHaveLength(1);
    // The same query refused as a plain call.
    await expect(eve.trpc.total.query({ counter: 'c' })).rejects.toMatchObject({ data: { code: 'FORBIDDEN' } });
  });

  it('keeps versions increasing under random connection cuts and ends current', async () => {
    const node = await startNode(cleanup, makeBroker(testPrefix()), new Map());
    const proxy = await createFaultProxy({ target: { port: node.server.port } });
    cleanup.defer(() => proxy.close());
    const watchers: Watcher[] = [];
    for (let i = 0; i < 4; i++) {
      const client = heraldClient<CounterRouter>(proxy.url('/ws'), { user: 'ann' });
      cleanup.defer(() => client.close());
      watchers.push(subscribe(client.trpc, 'c'));
    }
    for (const watcher of watchers) await watcher.until(() => watcher.results.length > 0, 'the first result');

    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      await Promise.all(Array.from({ length: 10 }, () => node.bump('c')));
      proxy.cutRandom(0.5, random);
    }
    for (const watcher of watchers) await watcher.until(() => watcher.last?.total === rounds * 10, 'the final result after the cuts');
    for (const watcher of watchers) {
      expect(watcher.versionsIncrease()).toBe(true);
      expect(watcher.error).toBeNull();
    }
  });
});

// One Redis, and a Redis Cluster this file starts when redis-server is installed (helpers/redisTargets.ts).
describe.each(await redisTargets())('a live query on several nodes sharing $name', (target) => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('brings every subscriber on every node to the result after the last publish, with both clients', async () => {
    const prefix = testPrefix();
    const store = new Map<string, number>();
    const nodes: Awaited<ReturnType<typeof startNode>>[] = [];
    for (let i = 0; i < 3; i++) nodes.push(await startNode(cleanup, redisBroker({ ...target.options(), prefix }), store));
    const watchers: Watcher[] = [];
    for (const [i, node] of nodes.entries()) {
      for (const kind of CLIENT_KINDS) {
        const client = makeClient<CounterRouter>(kind, node.server.url, { user: `u${i}` });
        cleanup.defer(() => client.close());
        watchers.push(subscribe(client.trpc, 'shared'));
      }
    }
    for (const watcher of watchers) await watcher.until(() => watcher.results.length > 0, 'the first result');
    // Publishes from every node, interleaved.
    const publishes = 90;
    await Promise.all(Array.from({ length: publishes }, (_, i) => nodes[i % nodes.length]!.bump('shared')));
    for (const watcher of watchers) await watcher.until(() => watcher.last?.total === publishes, 'the result after the burst');
    for (const watcher of watchers) expect(watcher.versionsIncrease()).toBe(true);
    // Each node serves two users (two share keys): at most one recompute of each at a time.
    for (const node of nodes) expect(node.stats.maxRunning).toBeLessThanOrEqual(2);
  });

  it('resumes on another node after one is closed: the current result, never one the client already has', async () => {
    const prefix = testPrefix();
    const store = new Map<string, number>();
    const a = await startNode(cleanup, redisBroker({ ...target.options(), prefix }), store);
    const b = await startNode(cleanup, redisBroker({ ...target.options(), prefix }), store);
    const client = heraldClient<CounterRouter>([a.server.url, b.server.url], { user: 'ann' });
    cleanup.defer(() => client.close());
    const watcher = subscribe(client.trpc, 'c');
    await watcher.until(() => watcher.results.length === 1, 'the first result');
    await a.bump('c');
    await watcher.until(() => watcher.last?.total === 1, 'the result on node a');

    // Node a goes away; publishes continue from node b while the client moves.
    await a.close();
    await b.bump('c');
    await b.bump('c');
    await watcher.until(() => watcher.last?.total === 3, 'the current result on node b');
    expect(watcher.versionsIncrease()).toBe(true);
    expect(watcher.error).toBeNull();
  });
});

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('coalescing, step by step (memory broker, in process)', () => {
  it('runs one recompute at a time and exactly one more after it, however many publishes arrived meanwhile', async () => {
    const herald = createHerald({ broker: memoryBroker() });
    const counters = herald.channel('counters', { key: z.string().min(1), message: z.object({ total: z.number() }) });
    const t = initTRPC.create({ transformer });
    let total = 0;
    let runs = 0;
    /** Resolved when a run starts. */
    let entered = deferred();
    /** What a run waits for before it reads `total`. */
    let gate: Promise<void> = Promise.resolve();
    const query = t.procedure.query(async () => {
      runs++;
      entered.resolve();
      await gate;
      return total;
    });
    const live = herald.live(query, { name: 'total', dependsOn: () => [counters.key('c')] });
    const controller = new AbortController();
    const stream = live.stream(undefined, { ctx: {}, signal: controller.signal });
    try {
      const first = await stream.next();
      expect(first.done ? null : first.value[1]).toBe(0);
      expect(runs).toBe(1);
      // A channel subscriber attached after the live query: the fan-out hands each message to the live query first.
      const messages = counters.stream('c', { signal: controller.signal });
      expect((await messages.next()).value?.[1]).toEqual({ type: 'live', replayed: 0 });

      const held = deferred();
      gate = held.promise;
      entered = deferred();
      total = 1;
      await counters.publish('c', { total });
      await entered.promise; // run 2 is under way, held at the gate
      for (let n = 2; n <= 50; n++) {
        total = n;
        await counters.publish('c', { total });
      }
      for (let seen = 0; seen < 50; ) {
        const next = await messages.next();
        if (next.done) throw new Error('the channel stream ended');
        if (next.value[1].type === 'message') seen++;
      }
      // All 49 publishes reached the live query while run 2 was held: none started a run.
      expect(runs).toBe(2);

      gate = Promise.resolve();
      held.resolve();
      const head = (await counters.history('c', { limit: 1 })).position;
      const finalVersion = versionOf([head]).toString();
      let last = first.done ? '' : first.value[0];
      for (let i = 0; i < 10 && last !== finalVersion; i++) {
        const next = await stream.next();
        if (next.done) throw new Error('the live stream ended');
        expect(BigInt(next.value[0])).toBeGreaterThan(BigInt(last));
        expect(next.value[1]).toBe(50);
        last = next.value[0];
      }
      expect(last).toBe(finalVersion);
      // Run 2, and exactly one more for everything that arrived during it.
      expect(runs).toBe(3);
      await messages.return();
    } finally {
      controller.abort();
      await stream.return();
      await herald.close();
    }
  });
});
