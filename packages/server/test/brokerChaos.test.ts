/**
 * Exactly-once under a Redis that stalls and pauses at random: keyed
 * mutations, 8 in flight, each retried with its own key until it succeeds
 * (as Herald's client and outbox do with a mutation whose outcome is not
 * known), while Redis is stalled with `DEBUG SLEEP` or paused with SIGSTOP
 * now and then. Every mutation resolves, and each message is stored once,
 * retries included. Bounded in count (mutations, faults, attempts) and time.
 * Replay a failing run with CHAOS_SEED=<seed>.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, errorCodeOf, resultOf, seeded, type RawSocket } from '@herald/test-kit';
import { openSocket, sendKeyed, stallRedis, startLedger, startOwnRedis } from './helpers/ownRedis.js';

const TOTAL = 160;
const IN_FLIGHT = 8;
const MAX_FAULTS = 12;
const MAX_ATTEMPTS = 100;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('exactly-once under a stalling, pausing Redis', () => {
  it(`${TOTAL} keyed mutations, ${IN_FLIGHT} in flight, each retried with its key: all resolve, each message stored once`, { timeout: 120_000 }, async () => {
    const seed = Number(process.env['CHAOS_SEED'] ?? Date.now() % 100_000);
    const random = seeded(seed);
    const redis = await startOwnRedis(cleanup);
    const ledger = await startLedger(cleanup, redis.url, { commandTimeoutMs: 300, waitTimeoutMs: 1_000 });
    const sockets: RawSocket[] = [await openSocket(cleanup, ledger), await openSocket(cleanup, ledger)];

    const answered = new Map<number, string>();
    const errorCodes = new Map<string, number>();
    // Faults are placed by progress, not by the clock: the k-th comes once about k/13 of the mutations resolved.
    const progress = new Set<() => void>();
    const untilAnswered = (count: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (answered.size < count) return;
          progress.delete(check);
          resolve();
        };
        progress.add(check);
        check();
      });
    let next = 1;
    const worker = async (socket: RawSocket) => {
      for (let n = next++; n <= TOTAL; n = next++) {
        for (let attempt = 0; ; attempt++) {
          if (attempt === MAX_ATTEMPTS) throw new Error(`seed ${seed}: mutation ${n} did not succeed in ${MAX_ATTEMPTS} attempts`);
          const answer = await sendKeyed(socket, `k${n}`, n);
          const code = errorCodeOf(answer);
          if (code === null) {
            answered.set(n, resultOf<{ n: number; id: string }>(answer).id);
            for (const check of [...progress]) check();
            break;
          }
          errorCodes.set(code, (errorCodes.get(code) ?? 0) + 1);
        }
      }
    };

    const workersDone = Promise.all(Array.from({ length: IN_FLIGHT }, (_, i) => worker(sockets[i % sockets.length] as RawSocket)));
    workersDone.catch(() => undefined);
    let sending = true;
    let faults = 0;
    const chaos = (async () => {
      for (let k = 1; sending && k <= MAX_FAULTS; k++) {
        await Promise.race([untilAnswered(Math.floor((k * TOTAL) / (MAX_FAULTS + 1)) + Math.floor(random() * 5)), workersDone]);
        if (!sending) break;
        faults++;
        if (random() < 0.5) {
          const { awake } = await stallRedis(cleanup, redis, random() < 0.5 ? 1 : 2);
          await awake;
        } else {
          redis.signal('SIGSTOP');
          await pause(200 + random() * 1_000);
          redis.signal('SIGCONT');
        }
      }
    })();
    cleanup.defer(() => redis.signal('SIGCONT'));
    try {
      await workersDone;
    } finally {
      sending = false;
      await chaos;
    }

    const summary = `seed ${seed}: ${faults} faults, error answers ${JSON.stringify(Object.fromEntries(errorCodes))}`;
    console.log(`[broker chaos] ${summary}`);
    expect(faults, summary).toBe(MAX_FAULTS);
    // The faults were felt: some answers were BROKER_UNAVAILABLE, and no other error code came.
    expect(errorCodes.get('BROKER_UNAVAILABLE') ?? 0, summary).toBeGreaterThan(0);
    expect([...errorCodes.keys()].filter((code) => code !== 'BROKER_UNAVAILABLE' && code !== 'TIMEOUT'), summary).toEqual([]);

    // Every mutation resolved, each message is stored once, and each answer names the one stored message.
    expect(answered.size, summary).toBe(TOTAL);
    const { messages } = await ledger.app.ledger.history('main', { limit: 10_000 });
    const stored = messages.map((m) => m.message.n);
    expect([...stored].sort((a, b) => a - b), summary).toEqual(Array.from({ length: TOTAL }, (_, i) => i + 1));
    const storedId = new Map(messages.map((m) => [m.message.n, m.id]));
    for (const [n, id] of answered) expect(id, `${summary}: mutation ${n}`).toBe(storedId.get(n));
  });
});
