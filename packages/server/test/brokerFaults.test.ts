/**
 * A Redis that stalls (`DEBUG SLEEP`), pauses (SIGSTOP), fills up
 * (`maxmemory` with `noeviction`), turns read-only (a replica) or goes
 * away, under keyed mutations and
 * resumed subscriptions: a mutation whose outcome is not known is never
 * stored as a failure and never runs its publish twice, every broker
 * failure reaches the caller as BROKER_UNAVAILABLE, `/readyz` sees a Redis
 * that refuses writes, and a subscription resumed while Redis is away waits
 * for it. Each test runs a redis-server of its own (helpers/ownRedis.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { transformer } from '@herald/server';
import { Cleanup, errorCodeOf, resultOf, withTimeout, type RawSocket, type RedisProcess } from '@herald/test-kit';
import {
  adminClient,
  ledgerEvents,
  openSocket,
  sendKeyed,
  stallRedis,
  startLedger,
  startOwnRedis,
  subscribeLedger,
  type LedgerEvent,
} from './helpers/ownRedis.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A way to make Redis stop answering for a while, and the promise of its answering again. */
type Fault = (redis: RedisProcess) => Promise<{ readonly resume: () => Promise<void> }>;

const FAULTS: readonly { readonly name: string; readonly fault: Fault }[] = [
  {
    name: 'stalled (DEBUG SLEEP)',
    fault: async (redis) => {
      const { awake } = await stallRedis(cleanup, redis, 1);
      return { resume: () => awake };
    },
  },
  {
    name: 'paused (SIGSTOP)',
    fault: async (redis) => {
      redis.signal('SIGSTOP');
      cleanup.defer(() => redis.signal('SIGCONT'));
      return { resume: async () => redis.signal('SIGCONT') };
    },
  },
];

/** Sends `send({ n })` with `key` until it succeeds (a retry keeps its key, as Herald's client does); its result. */
async function sendUntilDone(socket: RawSocket, key: string, n: number, attempts = 50): Promise<{ n: number; id: string }> {
  const codes: (string | null)[] = [];
  for (let attempt = 0; attempt < attempts; attempt++) {
    const answer = await sendKeyed(socket, key, n);
    const code = errorCodeOf(answer);
    if (code === null) return resultOf<{ n: number; id: string }>(answer);
    codes.push(code);
  }
  throw new Error(`send ${n} (key ${key}) never succeeded: ${codes.join(', ')}`);
}

describe.each(FAULTS)('a keyed mutation while Redis is $name', ({ fault }) => {
  it('whose publish times out answers BROKER_UNAVAILABLE, and its retry with the same key learns the one delivery', async () => {
    const redis = await startOwnRedis(cleanup);
    const ledger = await startLedger(cleanup, redis.url);
    const socket = await openSocket(cleanup, ledger);

    // The claim is made, the procedure runs; Redis stops answering just before its publish.
    const held = ledger.app.holds.hold(1);
    const answered = sendKeyed(socket, 'k1', 1);
    const release = await held;
    const { resume } = await fault(redis);
    release();
    // The publish times out (commandTimeoutMs) while it waits in Redis's queue: its outcome is not known.
    const first = await answered;
    expect(errorCodeOf(first)).toBe('BROKER_UNAVAILABLE');
    await resume();

    // Redis runs the queued publish when it answers again; the retry learns it instead of publishing again.
    const { id } = await sendUntilDone(socket, 'k1', 1);
    expect(await ledger.stored()).toEqual([1]);
    const history = await ledger.app.ledger.history('main');
    expect(history.messages.map((m) => m.id)).toEqual([id]);
    // And the key is done: its outcome is replayed from now on.
    expect(resultOf(await sendKeyed(socket, 'k1', 1))).toEqual({ n: 1, id });
    expect(await ledger.stored()).toEqual([1]);
  });

  it('whose claim times out answers BROKER_UNAVAILABLE, and its retry with the same key runs it once', async () => {
    const redis = await startOwnRedis(cleanup);
    const ledger = await startLedger(cleanup, redis.url);
    const socket = await openSocket(cleanup, ledger);
    expect(errorCodeOf(await sendKeyed(socket, 'k0', 0))).toBeNull();

    const { resume } = await fault(redis);
    const first = await sendKeyed(socket, 'k1', 1);
    expect(errorCodeOf(first)).toBe('BROKER_UNAVAILABLE');
    await resume();
    // The claim ran late in Redis; it does not hold the key for a run that never happens.
    const { n } = await sendUntilDone(socket, 'k1', 1);
    expect(n).toBe(1);
    expect(await ledger.stored()).toEqual([0, 1]);
  });
});

describe('a Redis that refuses writes (maxmemory 2mb, noeviction, filled)', () => {
  it('fails every step with BROKER_UNAVAILABLE and makes /readyz answer 503 until it accepts writes again', async () => {
    const redis = await startOwnRedis(cleanup);
    const admin = adminClient(cleanup, redis);
    const ledger = await startLedger(cleanup, redis.url);
    const socket = await openSocket(cleanup, ledger);
    const readyz = async () => (await fetch(`${ledger.server.httpUrl}/readyz`)).status;
    expect(await readyz()).toBe(200);
    expect(errorCodeOf(await sendKeyed(socket, 'k0', 0))).toBeNull();
    // A mutation claims its key while Redis still has room; its publish comes after Redis is full.
    const held = ledger.app.holds.hold(2);
    const claimedBefore = sendKeyed(socket, 'k2', 2);
    const release = await held;

    // Filled past the limit (written before the limit is set): right at the
    // limit Redis's own buffers move its memory to and fro, and a write passes now and then.
    const used = async () => Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1]);
    const filler = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 200 && (await used()) < 3 * 1024 * 1024; i++) await admin.set(`fill:${i}`, filler);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '2mb');
    await expect(admin.set('one-more', 'x')).rejects.toThrow(/OOM/);

    // The claim is refused: a keyed mutation fails with the broker's code, not INTERNAL_SERVER_ERROR, on both doors.
    expect(errorCodeOf(await sendKeyed(socket, 'k1', 1))).toBe('BROKER_UNAVAILABLE');
    const overHttp = await fetch(`${ledger.server.httpUrl}/trpc/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k1' },
      body: JSON.stringify(transformer.serialize({ n: 1 })),
    });
    expect(overHttp.status).toBe(503);
    const { error } = (await overHttp.json()) as { error: never };
    expect((transformer.deserialize(error) as { data: { heraldCode: string } }).data.heraldCode).toBe('BROKER_UNAVAILABLE');
    // A publish from server code too.
    await expect(ledger.app.ledger.publish('main', { n: -1 })).rejects.toMatchObject({ heraldCode: 'BROKER_UNAVAILABLE' });
    // Redis still answers PING; readiness asks for a write.
    expect(await admin.ping()).toBe('PONG');
    await expect.poll(readyz, { timeout: 10_000 }).toBe(503);
    // The publish is refused: BROKER_UNAVAILABLE, and the claim is released even though Redis refuses writes.
    release();
    expect(errorCodeOf(await claimedBefore)).toBe('BROKER_UNAVAILABLE');

    // Room again (the data stays): ready, and both keys run once.
    await admin.config('SET', 'maxmemory', '0');
    await expect.poll(readyz, { timeout: 10_000 }).toBe(200);
    expect((await sendUntilDone(socket, 'k1', 1)).n).toBe(1);
    expect((await sendUntilDone(socket, 'k2', 2, 3)).n).toBe(2);
    expect(await ledger.stored()).toEqual([0, 1, 2]);
  });
});

describe('a Redis that became a read-only replica', () => {
  it('makes /readyz answer 503 while it is one, and 200 once it is a master again', async () => {
    const primary = await startOwnRedis(cleanup);
    const redis = await startOwnRedis(cleanup);
    const admin = adminClient(cleanup, redis);
    const ledger = await startLedger(cleanup, redis.url);
    const readyz = async () => (await fetch(`${ledger.server.httpUrl}/readyz`)).status;
    expect(await readyz()).toBe(200);

    await admin.replicaof('127.0.0.1', primary.port);
    await expect.poll(readyz, { timeout: 10_000 }).toBe(503);
    await expect(ledger.app.ledger.publish('main', { n: 1 })).rejects.toMatchObject({ heraldCode: 'BROKER_UNAVAILABLE' });
    await admin.replicaof('NO', 'ONE');
    await expect.poll(readyz, { timeout: 10_000 }).toBe(200);
  });
});

/** A ledger on a Redis of its own with messages 1 and 2 published, a socket to it, and the position after them. */
async function ledgerWithTwoMessages() {
  const redis = await startOwnRedis(cleanup);
  const ledger = await startLedger(cleanup, redis.url);
  const socket = await openSocket(cleanup, ledger);
  for (const n of [1, 2]) await ledger.app.ledger.publish('main', { n });
  const { messages: before } = await ledger.app.ledger.history('main');
  return { redis, ledger, socket, position: before.at(-1)?.id ?? null };
}

/** The events of subscription `id` on `socket`, once `accept` takes them (bounded). */
async function eventsUntil(socket: RawSocket, id: number, accept: (events: LedgerEvent[]) => boolean, label: string): Promise<LedgerEvent[]> {
  await socket.frame(() => accept(ledgerEvents(socket, id)), 20_000, label);
  return ledgerEvents(socket, id);
}

const messages = (events: readonly LedgerEvent[]) => events.flatMap((e) => (e.event.type === 'message' ? [e.event.message.n] : []));

describe('a subscription resumed while Redis is away', () => {
  it('waits for a paused Redis, then resumes from its position with no gap and receives everything published after', async () => {
    const { redis, ledger, socket, position } = await ledgerWithTwoMessages();

    redis.signal('SIGSTOP');
    cleanup.defer(() => redis.signal('SIGCONT'));
    const errorsBefore = ledger.app.errors.length;
    const id = subscribeLedger(socket, position);
    // The first attempt fails (reported through onError), and the subscription waits instead of ending.
    await withTimeout(ledger.app.errorCount(errorsBefore + 1), 10_000, 'the first failed attempt');
    redis.signal('SIGCONT');

    await eventsUntil(socket, id, (events) => events.some((e) => e.event.type === 'live'), 'the live marker');
    for (const n of [3, 4, 5]) await ledger.app.ledger.publish('main', { n });
    const events = await eventsUntil(socket, id, (events) => messages(events).length >= 3, 'three messages');
    expect(events.map((e) => e.event.type)).toEqual(['live', 'message', 'message', 'message']);
    expect(messages(events)).toEqual([3, 4, 5]);
    expect(socket.frames.filter((frame) => errorCodeOf(frame) !== null)).toEqual([]);
  });

  it('waits for a Redis that is down, then says `reset` (it came back empty) and receives everything published after', async () => {
    const { redis, ledger, socket, position } = await ledgerWithTwoMessages();

    await redis.kill();
    const errorsBefore = ledger.app.errors.length;
    const id = subscribeLedger(socket, position);
    await withTimeout(ledger.app.errorCount(errorsBefore + 1), 10_000, 'the first failed attempt');
    await redis.start();

    await eventsUntil(socket, id, (events) => events.some((e) => e.event.type === 'live'), 'the live marker');
    // Publishes are refused until the node's connection is back; a refused one was not stored.
    const sent: number[] = [];
    for (let n = 3; sent.length < 3 && n < 1_000; n++) {
      if (await ledger.app.ledger.publish('main', { n }).then(() => true, () => false)) sent.push(n);
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const events = await eventsUntil(socket, id, (events) => messages(events).length >= 3, 'three messages');
    expect(events.map((e) => e.event.type)).toEqual(['gap', 'live', 'message', 'message', 'message']);
    expect(events[0]?.event).toEqual({ type: 'gap', reason: 'reset' });
    expect(messages(events)).toEqual(sent);
    expect(socket.frames.filter((frame) => errorCodeOf(frame) !== null)).toEqual([]);
  });
});

