import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'fake-indexeddb/auto';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../src/persistence/file.js';
import { indexedDbStorage } from '../../src/persistence/indexeddb.js';
import { memoryStorage, type HeraldStorage } from '../../src/persistence/storage.js';
import { StoredPositions } from '../../src/persistence/storedPositions.js';

const directories: string[] = [];
afterAll(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});
async function tempDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'herald-storage-'));
  directories.push(directory);
  return directory;
}

async function checkKeyValues(storage: HeraldStorage): Promise<void> {
  const long = `position/${'x'.repeat(300)}`;
  await storage.set('outbox/a', '1');
  await storage.set('outbox/b:é/?', '2');
  await storage.set(long, '3');
  await storage.set('outbox/a', '4');
  expect(await storage.get('outbox/a')).toBe('4');
  expect(await storage.get('outbox/missing')).toBeUndefined();
  expect((await storage.keys('outbox/')).sort()).toEqual(['outbox/a', 'outbox/b:é/?']);
  expect(await storage.keys('position/')).toEqual([long]);
  expect(await storage.get(long)).toBe('3');
  await storage.delete('outbox/a');
  await storage.delete('outbox/a');
  expect(await storage.keys('outbox/')).toEqual(['outbox/b:é/?']);
}

describe('storages', () => {
  it('memoryStorage: values by key, and a lock held once until released', async () => {
    const storage = memoryStorage();
    await checkKeyValues(storage);
    const release = await storage.tryLock('owner');
    expect(release).not.toBeNull();
    expect(await storage.tryLock('owner')).toBeNull();
    await release!();
    expect(await storage.tryLock('owner')).not.toBeNull();
  });

  it('fileStorage: values in files (long keys hashed), locks shared by every storage on the directory', async () => {
    const directory = await tempDirectory();
    const storage = fileStorage({ directory });
    await checkKeyValues(storage);
    expect((await readdir(join(directory, 'values'))).every((name) => name.length < 255)).toBe(true);
    const other = fileStorage({ directory });
    expect(await other.get('outbox/b:é/?')).toBe('2');
    const release = await storage.tryLock('herald-outbox-owner/one');
    expect(release).not.toBeNull();
    expect(await other.tryLock('herald-outbox-owner/one')).toBeNull();
    await release!();
    const again = await other.tryLock('herald-outbox-owner/one');
    expect(again).not.toBeNull();
    await again!();
  });

  it('indexedDbStorage: values in IndexedDB; without Web Locks it refuses to lock, saying why', async () => {
    const storage = indexedDbStorage({ database: 'herald-test' });
    await checkKeyValues(storage);
    await expect(storage.tryLock('owner')).rejects.toThrow(/Web Locks/);
  });

  it('StoredPositions: one write in flight per name, the newest id next, and reloaded by the next client', async () => {
    const storage = memoryStorage();
    const writes: string[] = [];
    const counting: HeraldStorage = {
      ...storage,
      set: async (key, value) => {
        writes.push(value);
        await storage.set(key, value);
      },
    };
    const positions = new StoredPositions(counting, (error) => expect.fail(error.message));
    await positions.ready;
    for (const id of ['1-0', '2-0', '3-0', '4-0']) positions.record('room', id);
    await positions.close();
    expect(writes).toEqual(['1-0', '4-0']);
    const next = new StoredPositions(storage, (error) => expect.fail(error.message));
    await next.ready;
    expect(next.get('room')).toBe('4-0');
  });
});
