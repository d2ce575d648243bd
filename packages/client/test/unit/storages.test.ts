import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { indexedDbStorage } from '../../src/persistence/indexeddb.js';
import { memoryStorage, type HeraldStorage } from '../../src/persistence/storage.js';
import { StoredPositions } from '../../src/persistence/storedPositions.js';

import { checkKeyValues } from '../helpers/keyValues.js';

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
