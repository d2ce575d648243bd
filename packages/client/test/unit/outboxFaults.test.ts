import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import 'fake-indexeddb/auto';
import { describe, expect, it, vi } from 'vitest';
import type { OutboxOutcome, PersistedCall, PersistedCallObserver } from '../../src/persistence.js';
import { DurableOutbox } from '../../src/persistence/durableOutbox.js';
import { fileStorage, QUARANTINE_DIR } from '../../src/persistence/file.js';
import { indexedDbStorage } from '../../src/persistence/indexeddb.js';
import { persistentCalls } from '../../src/persistence/persistentCalls.js';
import { memoryStorage, type HeraldStorage } from '../../src/persistence/storage.js';
import { StoredPositions, UNKNOWN_POSITION } from '../../src/persistence/storedPositions.js';
import { FakeHost } from '../helpers/fakeOutboxHost.js';
import { tempDirectories } from '../helpers/tempDirectories.js';

const tempDirectory = tempDirectories('herald-faults-');

const settings = { maxAgeMs: 60_000, claimIntervalMs: 60_000, retryDelayMs: 500, inOrder: true };
const observer = (): PersistedCallObserver => ({ next: () => undefined, error: () => undefined, complete: () => undefined });

/** Writes `count` entries through an outbox whose sends are never answered, then closes it: they stay pending in storage. */
async function leavePending(storage: HeraldStorage, count: number): Promise<void> {
  const outbox = new DurableOutbox(storage, new FakeHost('old'), { ...settings, onError: (error) => expect.fail(error.message) });
  for (let n = 0; n < count; n++) outbox.mutate('write', { n }, observer());
  await vi.waitFor(async () => expect(await storage.keys('outbox/')).toHaveLength(count), { timeout: 10_000 });
  await outbox.close();
}

/** An outbox that answers every send at once, with what it reported. */
async function drainingOutbox(storage: HeraldStorage) {
  const host = new FakeHost('new');
  host.answerAtOnce = true;
  const errors: string[] = [];
  const outbox = new DurableOutbox(storage, host, { ...settings, onError: (error) => errors.push(error.message) });
  const outcomes: OutboxOutcome[] = [];
  outbox.onSettled((outcome) => outcomes.push(outcome));
  await outbox.ready;
  return { outbox, host, errors, outcomes };
}

const valuesFile = (directory: string, key: string) => join(directory, 'values', `${encodeURIComponent(key)}.json`);

describe('a durable store that survives its own files', () => {
  it('fileStorage: a truncated, an empty and a "v": 2 entry file (one-file-per-key layout) are moved into quarantine/, reported, and the 4 valid entries are sent in order', async () => {
    const directory = await tempDirectory();
    await leavePending(fileStorage({ directory }), 4);
    await mkdir(join(directory, 'values'));
    await writeFile(valuesFile(directory, 'outbox/truncated'), '{"k":"outbox/truncated","v":"{\\"v\\":1,\\"key\\":\\"trunc');
    await writeFile(valuesFile(directory, 'outbox/empty'), '');
    const newer = { v: 2, key: 'newer', path: 'write', owner: 'a-client-that-is-gone', createdAt: 0, seq: 1, state: 'pending', shards: [1] };
    await writeFile(valuesFile(directory, 'outbox/newer'), JSON.stringify({ k: 'outbox/newer', v: JSON.stringify(newer) }));

    const storage = fileStorage({ directory }); // as after a restart: the files are there when it starts
    const { outbox, host, errors, outcomes } = await drainingOutbox(storage);
    await vi.waitFor(() => expect(outcomes).toHaveLength(7), { timeout: 10_000 });
    expect(host.sent.map((s) => s.call.input)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    expect(outcomes.filter((o) => o.type === 'success')).toHaveLength(4);
    const quarantined = outcomes.filter((o) => o.type === 'quarantined');
    expect(quarantined.map((o) => o.entry.key).sort()).toEqual(['empty', 'newer', 'truncated']);
    expect(quarantined.find((o) => o.entry.key === 'newer')?.error.message).toMatch(/format version is 2/);
    expect(errors).toHaveLength(3);
    expect(errors.every((message) => message.includes(join(directory, QUARANTINE_DIR)))).toBe(true);
    expect((await readdir(join(directory, QUARANTINE_DIR))).length).toBe(3);
    await vi.waitFor(async () => expect(await storage.keys('outbox/')).toEqual([]), { timeout: 10_000 });
    await outbox.close();

    // Moved aside once: the next client finds nothing to report.
    const next = await drainingOutbox(storage);
    expect(next.outcomes).toEqual([]);
    expect(next.errors).toEqual([]);
    await next.outbox.close();
  });

  it('an entry of a newer format whose owner is alive is left alone (that client sends it)', async () => {
    const storage = memoryStorage();
    const release = await storage.tryLock('herald-outbox-owner/newer-client');
    await storage.set('outbox/theirs', JSON.stringify({ v: 2, key: 'theirs', owner: 'newer-client' }));
    const { outbox, errors, outcomes } = await drainingOutbox(storage);
    expect(outcomes).toEqual([]);
    expect(errors).toEqual([]);
    expect(await storage.get('outbox/theirs')).toBeDefined();
    await outbox.close();
    await release!();
  });

  it('memoryStorage (no quarantine of its own): an entry that is not JSON is copied under quarantine/ and removed; the storage failing on one entry does not stop the others', async () => {
    const inner = memoryStorage();
    await leavePending(inner, 2);
    await inner.set('outbox/garbage', 'not json{');
    await inner.set('outbox/flaky', '{}');
    let failures = 1;
    const storage: HeraldStorage = {
      ...inner,
      get: async (key) => {
        if (key === 'outbox/flaky' && failures-- > 0) throw new Error('EIO: i/o error');
        return inner.get(key);
      },
    };
    const { outbox, host, errors, outcomes } = await drainingOutbox(storage);
    await vi.waitFor(() => expect(outcomes.filter((o) => o.type === 'success')).toHaveLength(2));
    expect(host.sent.map((s) => s.call.input)).toEqual([{ n: 0 }, { n: 1 }]);
    expect(outcomes.filter((o) => o.type === 'quarantined').map((o) => o.entry.key)).toEqual(['garbage']);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/outbox\/garbage cannot be read \(it is not JSON.*moved to quarantine\/outbox\/garbage@/);
    expect(errors[1]).toMatch(/outbox\/flaky could not be read: EIO/);
    const aside = await inner.keys('quarantine/');
    expect(aside).toHaveLength(1);
    expect(await inner.get(aside[0]!)).toBe('not json{');
    await outbox.close();
  });

  it('StoredPositions: an empty position file among 5 (one-file-per-key layout) is moved aside and answers `unknown`; the 4 others load', async () => {
    const directory = await tempDirectory();
    await mkdir(join(directory, 'values'));
    for (const name of ['a', 'b', 'c', 'd', 'e']) {
      const key = `position/${name}`;
      await writeFile(valuesFile(directory, key), name === 'c' ? '' : JSON.stringify({ k: key, v: `${name.charCodeAt(0)}-0` }));
    }
    const storage = fileStorage({ directory });
    const errors: string[] = [];
    const positions = new StoredPositions(storage, (error) => errors.push(error.message));
    await positions.ready;
    expect(['a', 'b', 'd', 'e'].map((name) => positions.lookup(name))).toEqual(['97-0', '98-0', '100-0', '101-0'].map((id) => ({ type: 'id', id })));
    expect(positions.lookup('c')).toMatchObject({ type: 'unknown' });
    expect(positions.lookup('f')).toEqual({ type: 'none' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/position\/c cannot be read \(its file is empty\).*quarantine/);
    expect(await readdir(join(directory, QUARANTINE_DIR))).toHaveLength(1);
    // Delivering an id makes it known again.
    positions.record('c', '99-5');
    expect(positions.lookup('c')).toEqual({ type: 'id', id: '99-5' });
    await positions.close();
  });

  it('indexedDbStorage: a position stored as a number is unreadable, not a position', async () => {
    const storage = indexedDbStorage({ database: 'herald-faults' });
    await storage.set('position/ok', '5-0');
    const { set: rawSet, createStore } = await import('idb-keyval');
    await rawSet('position/bad', 42, createStore('herald-faults', 'keyval'));
    const errors: string[] = [];
    const positions = new StoredPositions(storage, (error) => errors.push(error.message));
    await positions.ready;
    expect(positions.lookup('ok')).toEqual({ type: 'id', id: '5-0' });
    expect(positions.lookup('bad')).toMatchObject({ type: 'unknown' });
    expect(errors).toHaveLength(1);
    expect(await storage.keys('position/')).toEqual(['position/ok']);
    const aside = (await storage.keys('quarantine/')).filter((key) => key.startsWith('quarantine/position/bad@'));
    expect(aside).toHaveLength(1);
    const { get: rawGet } = await import('idb-keyval');
    expect(await rawGet(aside[0]!, createStore('herald-faults', 'keyval'))).toBe(42); // kept as it was
  });

  it('a subscription whose stored position cannot be read resumes from UNKNOWN_POSITION (a Herald channel answers with a gap), never live', async () => {
    const storage = memoryStorage();
    await storage.set('position/room:a', '7-0');
    const broken: HeraldStorage = { ...storage, get: async (key) => (key === 'position/room:b' ? Promise.reject(new Error('EIO')) : storage.get(key)) };
    await storage.set('position/room:b', '8-0');
    const positions = new StoredPositions(broken, () => undefined);
    const started: PersistedCall[] = [];
    const start = persistentCalls(
      (call) => {
        started.push(call);
        return () => undefined;
      },
      null as never,
      positions,
    );
    for (const room of ['room:a', 'room:b', 'room:c']) start({ type: 'subscription', path: 'entries', input: {}, context: { position: room } }, observer());
    await vi.waitFor(() => expect(started).toHaveLength(3));
    expect(started.map((call) => call.lastEventId)).toEqual(['7-0', UNKNOWN_POSITION, undefined]);
    expect(UNKNOWN_POSITION.length).toBeLessThanOrEqual(64); // what a channel's input accepts
  });
});
