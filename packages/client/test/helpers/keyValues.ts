import { expect } from 'vitest';
import type { HeraldStorage } from '../../src/persistence/storage.js';

/** What every HeraldStorage does with values: set, overwrite, get, list by prefix (long and odd keys too), delete twice. */
export async function checkKeyValues(storage: HeraldStorage): Promise<void> {
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
