import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { ConnectionState } from '@herald/shared';
import type { OutboxOutcome, PersistedCallObserver } from '../../src/persistence.js';
import { DurableOutbox, OWNER_LOCK_PREFIX } from '../../src/persistence/durableOutbox.js';
import { memoryStorage, type HeraldStorage } from '../../src/persistence/storage.js';
import { clientError } from '../../src/errors.js';
import { FakeHost } from '../helpers/fakeOutboxHost.js';

let host: FakeHost;

const settings = { maxAgeMs: 10_000, claimIntervalMs: 1_000, retryDelayMs: 500, inOrder: true, onError: (error: Error) => expect.fail(error.message) };

function serverError(code: string, message: string): TRPCClientError<AnyRouter> {
  return TRPCClientError.from({ error: { code: -32_000, message, data: { code, httpStatus: 500, path: 'write' } } });
}

function caller() {
  const seen: { data?: unknown; error?: TRPCClientError<AnyRouter> } = {};
  const observer: PersistedCallObserver = {
    next: (result) => {
      if (result.type === 'data') seen.data = result.data;
    },
    error: (error) => (seen.error = error),
    complete: () => undefined,
  };
  return { observer, seen };
}

async function outboxOn(storage: HeraldStorage) {
  const outbox = new DurableOutbox(storage, host, settings);
  const outcomes: OutboxOutcome[] = [];
  outbox.onSettled((outcome) => outcomes.push(outcome));
  await outbox.ready;
  return { outbox, outcomes };
}

beforeEach(() => {
  vi.useFakeTimers();
  host = new FakeHost();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('DurableOutbox timers', () => {
  it('an entry still unanswered at maxAgeMs is cancelled and reported expired, not before', async () => {
    const storage = memoryStorage();
    const { outbox, outcomes } = await outboxOn(storage);
    const { observer, seen } = caller();
    outbox.mutate('write', { n: 1 }, observer);
    await vi.advanceTimersByTimeAsync(0);
    expect(host.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(settings.maxAgeMs - 1);
    expect(outcomes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(outcomes.map((o) => o.type)).toEqual(['expired']);
    expect(host.sent[0]!.cancelled).toBe(true);
    expect(seen.error?.data).toMatchObject({ heraldCode: 'OUTBOX_EXPIRED' });
    expect(JSON.parse((await storage.get(`outbox/${outbox.entries[0]!.key}`))!)).toMatchObject({ state: 'failed', error: { heraldCode: 'OUTBOX_EXPIRED' } });
    await outbox.close();
  });

  it('in order: one entry at a time, the next once the one before has its outcome; a stuck head expires and lets the next go', async () => {
    const { outbox, outcomes } = await outboxOn(memoryStorage());
    for (const n of [1, 2, 3]) outbox.mutate('write', { n }, caller().observer);
    await vi.advanceTimersByTimeAsync(0);
    expect(host.sent.map((s) => s.call.input)).toEqual([{ n: 1 }]);
    host.sent[0]!.observer.next({ type: 'data', data: 1 });
    expect(host.sent.map((s) => s.call.input)).toEqual([{ n: 1 }, { n: 2 }]);
    host.sent[1]!.observer.error(serverError('BAD_REQUEST', 'no'));
    expect(host.sent.map((s) => s.call.input)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await vi.advanceTimersByTimeAsync(settings.maxAgeMs);
    expect(outcomes.map((o) => o.type)).toEqual(['success', 'error', 'expired']);
    await outbox.close();
  });

  it('a storage that cannot lock: the outbox reports it, and each mutation fails saying why, unsent', async () => {
    const errors: string[] = [];
    const storage: HeraldStorage = { ...memoryStorage(), tryLock: () => Promise.reject(new Error('no Web Locks here')) };
    const outbox = new DurableOutbox(storage, host, { ...settings, onError: (error) => errors.push(error.message) });
    const { observer, seen } = caller();
    outbox.mutate('write', { n: 1 }, observer);
    await expect(outbox.ready).rejects.toThrow('no Web Locks here');
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.error?.message).toMatch(/could not start.*no Web Locks here/);
    expect(errors).toEqual(['no Web Locks here']);
    expect(host.sent).toEqual([]);
    await outbox.close();
  });

  it('a start the storage failed for a moment: the mutations of that moment fail saying why, the next one starts the outbox again and is sent', async () => {
    const errors: string[] = [];
    const base = memoryStorage();
    let full = true;
    let locks = 0;
    const storage: HeraldStorage = {
      ...base,
      set: (key, value) => (full ? Promise.reject(new Error('The quota has been exceeded.')) : base.set(key, value)),
      tryLock: (name) => {
        locks++;
        return base.tryLock(name);
      },
    };
    const outbox = new DurableOutbox(storage, host, { ...settings, onError: (error) => errors.push(error.message) });
    const first = caller();
    outbox.mutate('write', { n: 1 }, first.observer);
    await expect(outbox.ready).rejects.toThrow('The quota has been exceeded.');
    await vi.advanceTimersByTimeAsync(0);
    expect(first.seen.error?.message).toMatch(/could not start.*The quota has been exceeded\./);
    expect(errors).toEqual(['The quota has been exceeded.']);

    full = false;
    const second = caller();
    outbox.mutate('write', { n: 2 }, second.observer);
    await outbox.ready;
    await vi.advanceTimersByTimeAsync(0);
    expect(host.sent.map((s) => s.call.input)).toEqual([{ n: 2 }]);
    host.sent[0]!.observer.next({ type: 'data', data: 2 });
    expect(second.seen).toEqual({ data: 2 });
    // The owner lock the failed start took is kept, not asked for a second time (its own holder would be refused it).
    expect(locks).toBe(1);
    expect(errors).toHaveLength(1);
    await outbox.close();
  });

  it('a retry the storage cannot record: the call says why and the failed entry stays, stored; the next retry sends it', async () => {
    const base = memoryStorage();
    let full = false;
    const storage: HeraldStorage = { ...base, set: (key, value) => (full ? Promise.reject(new Error('The quota has been exceeded.')) : base.set(key, value)) };
    const { outbox } = await outboxOn(storage);
    outbox.mutate('write', { n: 1 }, caller().observer);
    await vi.advanceTimersByTimeAsync(0);
    host.sent[0]!.observer.error(serverError('BAD_REQUEST', 'no'));
    await vi.advanceTimersByTimeAsync(0);
    const key = outbox.entries[0]!.key;
    expect(outbox.entries).toMatchObject([{ key, state: 'failed', input: { n: 1 } }]);

    full = true;
    await expect(outbox.retry(key)).rejects.toThrow('The quota has been exceeded.');
    expect(outbox.entries).toMatchObject([{ key, state: 'failed', input: { n: 1 }, error: { code: 'BAD_REQUEST' } }]);
    await vi.advanceTimersByTimeAsync(0);
    expect(JSON.parse((await base.get(`outbox/${key}`))!)).toMatchObject({ state: 'failed' });
    expect(host.sent).toHaveLength(1);

    full = false;
    const again = await outbox.retry(key);
    await vi.advanceTimersByTimeAsync(0);
    expect(outbox.entries).toMatchObject([{ key: again, state: 'pending' }]);
    expect(host.sent.map((s) => s.call.idempotencyKey)).toEqual([key, again]);
    expect(await base.get(`outbox/${key}`)).toBeUndefined();
    await outbox.close();
  });

  it('the server saying the first attempt still runs: sent again after retryDelayMs with the same key', async () => {
    const { outbox, outcomes } = await outboxOn(memoryStorage());
    const { observer, seen } = caller();
    outbox.mutate('write', { n: 1 }, observer);
    await vi.advanceTimersByTimeAsync(0);
    host.sent[0]!.observer.error(serverError('TIMEOUT', 'The first attempt of this mutation is still running; retry later with the same key'));
    await vi.advanceTimersByTimeAsync(settings.retryDelayMs - 1);
    expect(host.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(host.sent.map((s) => s.call.idempotencyKey)).toEqual([host.sent[0]!.call.idempotencyKey, host.sent[0]!.call.idempotencyKey]);
    host.sent[1]!.observer.next({ type: 'data', data: 'ok' });
    expect(seen.data).toBe('ok');
    expect(outcomes.map((o) => o.type)).toEqual(['success']);
    await outbox.close();
  });

  it('OFFLINE_TIMEOUT resends at once; a refused connection waits for the next open', async () => {
    const { outbox } = await outboxOn(memoryStorage());
    outbox.mutate('write', { n: 1 }, caller().observer);
    await vi.advanceTimersByTimeAsync(0);
    host.sent[0]!.observer.error(clientError('OFFLINE_TIMEOUT', 'no connection'));
    expect(host.sent).toHaveLength(2);
    host.setState({ status: 'closed', refusal: null } as unknown as ConnectionState);
    host.sent[1]!.observer.error(TRPCClientError.from({ error: { code: -32_001, message: 'refused', data: { code: 'UNAUTHORIZED', httpStatus: 401 } } }));
    await vi.advanceTimersByTimeAsync(settings.maxAgeMs / 2); // no timer resends it
    expect(host.sent).toHaveLength(2);
    host.setState({ status: 'open', url: 'ws://test', transport: 'websocket' });
    expect(host.sent).toHaveLength(3);
    expect(new Set(host.sent.map((s) => s.call.idempotencyKey)).size).toBe(1);
    await outbox.close();
  });

  it.each([
    ['OUTCOME_UNKNOWN', 'no answer within callTimeoutMs'],
    ['BROKER_UNAVAILABLE', 'the publish did not happen'],
  ] as const)('%s (the outcome is not known) is not the outcome: sent again with the same key, after retryDelayMs while open', async (code, message) => {
    const { outbox, outcomes } = await outboxOn(memoryStorage());
    const { observer, seen } = caller();
    outbox.mutate('write', { n: 1 }, observer);
    await vi.advanceTimersByTimeAsync(0);
    host.sent[0]!.observer.error(clientError(code, message));
    await vi.advanceTimersByTimeAsync(settings.retryDelayMs - 1);
    expect(host.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(host.sent).toHaveLength(2);
    expect(host.sent[1]!.call.idempotencyKey).toBe(host.sent[0]!.call.idempotencyKey);
    host.sent[1]!.observer.next({ type: 'data', data: 'ok' });
    expect(seen.data).toBe('ok');
    expect(outcomes.map((o) => o.type)).toEqual(['success']);
    await outbox.close();
  });

  it("takes over a gone owner's entries at the next claimIntervalMs, and never a live owner's", async () => {
    const storage = memoryStorage();
    const { outbox: first } = await outboxOn(storage);
    first.mutate('write', { n: 1 }, caller().observer);
    await vi.advanceTimersByTimeAsync(0);
    expect(host.sent).toHaveLength(1);
    const { outbox: second } = await outboxOn(storage);
    await vi.advanceTimersByTimeAsync(settings.claimIntervalMs * 3);
    expect(host.sent).toHaveLength(1); // first is alive: its lock is held
    expect(second.entries).toEqual([]);

    // first's process dies: its lock is gone, its entry is left in storage.
    const entryKeys = await storage.keys('outbox/');
    expect(entryKeys.length).toBe(1);
    const stored = JSON.parse((await storage.get(entryKeys[0]!))!) as { owner: string };
    const release = await storage.tryLock(OWNER_LOCK_PREFIX + stored.owner);
    expect(release).toBeNull();
    await first.close(); // releases the lock; the entry stays
    await vi.advanceTimersByTimeAsync(settings.claimIntervalMs - 1);
    expect(host.sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(host.sent).toHaveLength(2);
    expect(host.sent[1]!.call).toEqual(host.sent[0]!.call);
    expect(second.entries.map((e) => e.key)).toEqual([host.sent[0]!.call.idempotencyKey]);
    await second.close();
  });

  it('one observer passed to several calls: each call is recorded and sent', async () => {
    const storage = memoryStorage();
    const { outbox } = await outboxOn(storage);
    const { observer } = caller();
    for (const n of [1, 2, 3]) outbox.mutate('write', { n }, observer);
    await vi.advanceTimersByTimeAsync(0);
    expect(await storage.keys('outbox/')).toHaveLength(3);
    await outbox.close();
  });

  it('a storage that cannot open (an IndexedDB open held up by another tab): ready rejects with its reason, and each mutation fails with it, unsent', async () => {
    const errors: string[] = [];
    const blocked = new Error('IndexedDB database "herald" did not open within 10000 ms: another tab is upgrading it');
    const storage: HeraldStorage = { ...memoryStorage(), get: () => Promise.reject(blocked) };
    const outbox = new DurableOutbox(storage, host, { ...settings, onError: (error) => errors.push(error.message) });
    const { observer, seen } = caller();
    outbox.mutate('write', { n: 1 }, observer);
    await expect(outbox.ready).rejects.toBe(blocked);
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.error?.message).toMatch(/could not start.*another tab is upgrading it/);
    expect(errors).toEqual([blocked.message]);
    expect(host.sent).toEqual([]);
    await outbox.close();
  });
});
