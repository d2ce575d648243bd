/**
 * A Redis of the test's own (never the shared one: these tests stall, pause
 * and fill it) and a small ledger app on it: one mutation that publishes a
 * numbered message, and a resumable stream of those messages. A missing
 * redis-server fails the test (`toolOrFail`): these suites never skip.
 */
import { initTRPC } from '@trpc/server';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createHerald, createHeraldServer, heraldErrorFormatter, resumeInput, transformer, type HeraldServer } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import {
  answerTo,
  findExecutable,
  rawSocket,
  startRedisCluster,
  startRedisServer,
  testPrefix,
  toolOrFail,
  withTimeout,
  type Cleanup,
  type RawSocket,
  type RedisCluster,
  type RedisProcess,
} from '@herald/test-kit';

/** Starts a redis-server of the test's own, with DEBUG allowed (for `DEBUG SLEEP`). */
export function startOwnRedis(cleanup: Cleanup): Promise<RedisProcess> {
  return startRedisServer(cleanup, toolOrFail(findExecutable('redis-server'), 'redis-server'), ['--enable-debug-command', 'yes']);
}

/** Starts a Redis Cluster of the test's own (3 masters with a replica each); a missing redis-server or redis-cli fails the test. */
export function startOwnCluster(cleanup: Cleanup): Promise<RedisCluster> {
  return startRedisCluster(cleanup, {
    redisServer: toolOrFail(findExecutable('redis-server'), 'redis-server'),
    redisCli: toolOrFail(findExecutable('redis-cli'), 'redis-cli'),
  });
}

/** A plain client of the test's Redis, for admin commands (CONFIG, FLUSHALL, filling it). */
export function adminClient(cleanup: Cleanup, redis: RedisProcess): Redis {
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  admin.on('error', () => undefined);
  cleanup.defer(() => admin.disconnect());
  return admin;
}

/** Whether Redis answers a PING on a fresh connection within `withinMs`. */
async function answers(redis: RedisProcess, withinMs: number): Promise<boolean> {
  const probe = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  probe.on('error', () => undefined);
  try {
    return await Promise.race([
      probe.connect().then(() => probe.ping()).then(() => true, () => false),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), withinMs)),
    ]);
  } finally {
    probe.disconnect();
  }
}

/**
 * `DEBUG SLEEP seconds` on a connection of its own. Resolves once Redis is
 * asleep (a PING from another connection goes unanswered) with the promise
 * of its waking up (the sleep's own reply).
 */
export async function stallRedis(cleanup: Cleanup, redis: RedisProcess, seconds: number): Promise<{ readonly awake: Promise<void> }> {
  const sleeper = new Redis(redis.url, { maxRetriesPerRequest: 0, commandTimeout: seconds * 1_000 + 10_000 });
  sleeper.on('error', () => undefined);
  cleanup.defer(() => sleeper.disconnect());
  await sleeper.ping();
  const awake = sleeper.call('DEBUG', 'SLEEP', String(seconds)).then(() => sleeper.disconnect());
  for (let probe = 0; probe < 20; probe++) {
    if (!(await answers(redis, 100))) return { awake };
  }
  throw new Error('Redis kept answering PING after DEBUG SLEEP');
}

/** Holds the first run of chosen numbers until the test releases it; later runs pass. */
export class Holds {
  private readonly held = new Map<number, { entered: () => void; readonly released: Promise<void> }>();

  /** The first run of `n` waits in its procedure, before it publishes: resolves once it does, with the function that lets it go on. */
  hold(n: number): Promise<() => void> {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    return new Promise((entered) => this.held.set(n, { entered: () => entered(release), released }));
  }

  async pass(n: number): Promise<void> {
    const hold = this.held.get(n);
    if (!hold) return;
    this.held.delete(n);
    hold.entered();
    await hold.released;
  }
}

export interface LedgerOptions {
  /** The broker's `commandTimeoutMs`. @default 300 */
  readonly commandTimeoutMs?: number;
  /** `idempotency.waitTimeoutMs` of the server. @default 1_000 */
  readonly waitTimeoutMs?: number;
}

function createLedgerApp(redisUrl: string, options: LedgerOptions) {
  const errors: unknown[] = [];
  const errorWaiters = new Set<() => void>();
  const broker = redisBroker({ url: redisUrl, prefix: testPrefix(), commandTimeoutMs: options.commandTimeoutMs ?? 300, onError: () => undefined });
  const herald = createHerald({
    broker,
    onError: (error) => {
      errors.push(error);
      for (const wake of [...errorWaiters]) wake();
    },
  });
  const ledger = herald.channel('ledger', {
    key: z.string(),
    message: z.object({ n: z.number().int() }),
    presence: z.object({ name: z.string() }),
    history: { size: 10_000, ttlMs: 600_000 },
  });
  const runs = new Map<number, number>();
  const holds = new Holds();
  const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    send: t.procedure.input(z.object({ n: z.number().int() })).mutation(async ({ input }) => {
      runs.set(input.n, (runs.get(input.n) ?? 0) + 1);
      await holds.pass(input.n);
      return { n: input.n, id: await ledger.publish('main', { n: input.n }) };
    }),
    ledger: t.procedure
      .input(z.object({ ...resumeInput }))
      // Joins presence, as the chat demo's room stream does: a resume waits for the broker at that step too.
      .subscription(({ input, signal }) => ledger.stream('main', { lastEventId: input.lastEventId, signal, presence: { name: 'reader' } })),
  });
  /** Resolves once `herald`'s `onError` has been called `count` times in all. */
  const errorCount = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (errors.length < count) return;
        errorWaiters.delete(check);
        resolve();
      };
      errorWaiters.add(check);
      check();
    });
  return { herald, ledger, runs, holds, router, errors, errorCount };
}

export type LedgerApp = ReturnType<typeof createLedgerApp>;

export interface LedgerServer {
  readonly app: LedgerApp;
  readonly server: HeraldServer;
  /** The numbers stored in the ledger's history, oldest first. */
  stored(): Promise<number[]>;
  close(): Promise<void>;
}

/** The ledger app on a free port, its broker on the Redis at `redisUrl`. */
export async function startLedger(cleanup: Cleanup, redisUrl: string, options: LedgerOptions = {}): Promise<LedgerServer> {
  const app = createLedgerApp(redisUrl, options);
  const server = await createHeraldServer({
    router: app.router,
    herald: app.herald,
    port: 0,
    host: '127.0.0.1',
    createContext: () => ({}),
    idempotency: { waitTimeoutMs: options.waitTimeoutMs ?? 1_000 },
  });
  const ledger: LedgerServer = {
    app,
    server,
    async stored() {
      return (await app.ledger.history('main', { limit: 10_000 })).messages.map((entry) => entry.message.n);
    },
    async close() {
      await server.close();
      await app.herald.close();
    },
  };
  cleanup.defer(() => ledger.close());
  return ledger;
}

/** An open raw socket to `server`. */
export async function openSocket(cleanup: Cleanup, server: LedgerServer): Promise<RawSocket> {
  const socket = rawSocket(server.server.url);
  cleanup.defer(() => socket.close());
  await withTimeout(socket.opened, 5_000, 'the socket to open');
  return socket;
}

let nextId = 0;

/** Sends `send({ n })` with idempotency key `key`: its answer frame. */
export async function sendKeyed(socket: RawSocket, key: string, n: number, timeoutMs = 10_000): Promise<unknown> {
  const id = ++nextId;
  socket.send({ id, method: 'mutation', params: { path: 'send', input: transformer.serialize({ n }), idempotencyKey: key } });
  return socket.frame(answerTo(id), timeoutMs, `the answer to send ${n} (key ${key})`);
}

/** Opens the `ledger` stream on `socket` (resuming after `lastEventId`); returns its request id. */
export function subscribeLedger(socket: RawSocket, lastEventId: string | null): number {
  const id = ++nextId;
  socket.send({ id, method: 'subscription', params: { path: 'ledger', input: transformer.serialize({ lastEventId }) } });
  return id;
}

/** A stream event as it arrived on a raw socket: its position and the event. */
export interface LedgerEvent {
  readonly position: string;
  readonly event: { readonly type: 'message'; readonly message: { n: number } } | { readonly type: 'live' } | { readonly type: 'gap'; readonly reason: string };
}

/** The stream events `socket` received for subscription `id`, in order. */
export function ledgerEvents(socket: RawSocket, id: number): LedgerEvent[] {
  const events: LedgerEvent[] = [];
  for (const frame of socket.frames) {
    const { id: frameId, result } = frame as { id?: unknown; result?: { type?: string; data?: unknown } };
    if (frameId !== id || result?.type !== 'data') continue;
    const data = transformer.deserialize(result.data as never) as { id: string; data: LedgerEvent['event'] };
    events.push({ position: data.id, event: data.data });
  }
  return events;
}
