import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { OutboxOutcome, PersistedCallObserver } from '../../src/persistence.js';
import { DurableOutbox } from '../../src/persistence/durableOutbox.js';
import { fileStorage } from '../../src/persistence/file.js';
import { memoryStorage, type HeraldStorage } from '../../src/persistence/storage.js';
import { countingStorage, FakeHost } from '../helpers/fakeOutboxHost.js';

/**
 * The outbox at sizes where a sort or a scan per change shows (issue 32, item
 * 7: 8,000 entries took 38 s). The assertions are counts and order, never
 * times: each entry costs one write to record, one read to reload, one
 * removal to settle, whatever the backlog; `pnpm bench --only outbox`
 * measures the times.
 */
const settings = { maxAgeMs: 3_600_000, claimIntervalMs: 3_600_000, retryDelayMs: 500, inOrder: true, onError: (error: Error) => expect.fail(error.message) };
const observer = (): PersistedCallObserver => ({ next: () => undefined, error: () => undefined, complete: () => undefined });

const directories: string[] = [];
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

/** Records `count` entries offline (sends never answered), then closes the outbox: they stay in storage. */
async function recordOffline(storage: HeraldStorage, count: number): Promise<void> {
  const host = new FakeHost('a');
  const outbox = new DurableOutbox(storage, host, settings);
  for (let n = 0; n < count; n++) outbox.mutate('write', { n }, observer());
  await vi.waitFor(() => expect(outbox.entries).toHaveLength(count), { timeout: 60_000 });
  expect(host.sent).toHaveLength(1); // in order: only the first goes out, and waits for its answer
  await outbox.close();
}

/** A new outbox on `storage` that answers every send at once; resolves once all `count` entries settled. */
async function reloadAndDrain(storage: HeraldStorage, count: number, uncounted: HeraldStorage) {
  const host = new FakeHost('b');
  host.answerAtOnce = true;
  const outbox = new DurableOutbox(storage, host, settings);
  const outcomes: OutboxOutcome[] = [];
  outbox.onSettled((outcome) => outcomes.push(outcome));
  await outbox.ready;
  await vi.waitFor(() => expect(outcomes).toHaveLength(count), { timeout: 60_000 });
  await vi.waitFor(async () => expect(await uncounted.keys('outbox/')).toEqual([]), { timeout: 60_000 });
  await outbox.close();
  return { host, outcomes };
}

async function checkScale(inner: HeraldStorage, count: number): Promise<void> {
  const { storage, calls } = countingStorage(inner);
  await recordOffline(storage, count);
  // One write per entry, plus the epoch taken at start; one listing and one epoch read.
  expect(calls).toEqual({ get: 1, set: count + 1, delete: 0, keys: 1 });

  for (const key of Object.keys(calls) as (keyof typeof calls)[]) calls[key] = 0;
  const { host, outcomes } = await reloadAndDrain(storage, count, inner);
  // Reloading reads each entry once and rewrites none (the gone owner's lock is taken instead); each settled entry is one removal.
  expect(calls.get).toBe(count + 1);
  expect(calls.set).toBe(1);
  expect(calls.delete).toBe(count);
  expect(calls.keys).toBe(2); // the listing, and the listing again once the gone owner's lock is taken
  expect(outcomes.every((outcome) => outcome.type === 'success')).toBe(true);
  expect(host.sent.map((sent) => (sent.call.input as { n: number }).n)).toEqual([...Array(count).keys()]);
}

describe('an outbox that scales', () => {
  it('memoryStorage, 20,000 entries: recorded, reloaded and drained in order, one storage call per entry per step', { timeout: 120_000 }, async () => {
    await checkScale(memoryStorage(), 20_000);
  });

  it('fileStorage, 5,000 entries: recorded, reloaded and drained in order, one storage call per entry per step', { timeout: 120_000 }, async () => {
    const directory = await mkdtemp(join(tmpdir(), 'herald-scale-'));
    directories.push(directory);
    await checkScale(fileStorage({ directory }), 5_000);
  });

  it('a mutation made while the backlog loads is recorded at once, and sent in its turn, after the backlog', async () => {
    const inner = memoryStorage();
    await recordOffline(inner, 3);
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const written: string[] = [];
    const slow: HeraldStorage = {
      ...inner,
      get: async (key) => {
        if (key.startsWith('outbox/')) await gate; // the backlog is slow to read
        return inner.get(key);
      },
      set: async (key, value) => {
        written.push(key);
        await inner.set(key, value);
      },
    };
    const host = new FakeHost('c');
    host.answerAtOnce = true;
    const outbox = new DurableOutbox(slow, host, settings);
    let answered: unknown;
    outbox.mutate('write', { n: 'new' }, { ...observer(), next: (result) => result.type === 'data' && (answered = result.data) });
    await vi.waitFor(() => expect(written.filter((key) => key.startsWith('outbox/'))).toHaveLength(1));
    expect(host.sent).toEqual([]); // recorded, not sent: the backlog goes first
    openGate();
    await outbox.ready;
    await vi.waitFor(() => expect(answered).toEqual({ n: 'new' }));
    expect(host.sent.map((sent) => (sent.call.input as { n: unknown }).n)).toEqual([0, 1, 2, 'new']);
    await outbox.close();
  });
});
