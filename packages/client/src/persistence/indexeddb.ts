/**
 * `indexedDbStorage`: outbox entries and positions in the browser's
 * IndexedDB (through `idb-keyval`), shared by every tab of the origin, with
 * the Web Locks API (`navigator.locks`) for ownership: a closed tab's locks
 * are released by the browser, so another tab takes its entries over
 * (docs/outbox.md).
 *
 * @example
 * ```ts
 * import { createPersistence } from '@herald/client/persistence';
 * import { indexedDbStorage } from '@herald/client/indexeddb';
 *
 * const client = createHeraldClient<AppRouter>({ url, persistence: createPersistence(indexedDbStorage()) });
 * ```
 * @module @herald/client/indexeddb
 */
import { createStore, del, get, keys, set } from 'idb-keyval';
import type { HeraldStorage } from './storage.js';

export type { HeraldStorage } from './storage.js';

/** The options of `indexedDbStorage`. */
export interface IndexedDbStorageOptions {
  /**
   * The IndexedDB database name; clients on one name share an outbox. Use one
   * per signed-in user when several may use the browser.
   * @default 'herald'
   */
  database?: string;
}

/** What the storage needs of `navigator.locks` (the Web Locks API). */
interface WebLocks {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: object | null) => Promise<void> | void): Promise<unknown>;
}

/** A `HeraldStorage` in IndexedDB, with Web Locks. Pages without `navigator.locks` (an insecure context) are refused. */
export function indexedDbStorage(options: IndexedDbStorageOptions = {}): HeraldStorage {
  const store = createStore(options.database ?? 'herald', 'keyval');
  return {
    get: (key) => get<string>(key, store),
    set: (key, value) => set(key, value, store),
    delete: (key) => del(key, store),
    keys: async (prefix) => (await keys<IDBValidKey>(store)).filter((key): key is string => typeof key === 'string' && key.startsWith(prefix)),
    tryLock(name) {
      const locks = (globalThis.navigator as { locks?: WebLocks } | undefined)?.locks;
      if (!locks) {
        return Promise.reject(
          new Error('indexedDbStorage needs the Web Locks API (navigator.locks), which browsers offer on https:// and http://localhost pages only'),
        );
      }
      return new Promise((resolve, reject) => {
        locks
          .request(`herald:${name}`, { ifAvailable: true }, (lock) => {
            if (!lock) {
              resolve(null);
              return;
            }
            // The lock is held until the promise the callback returned settles.
            return new Promise<void>((release) => resolve(async () => release()));
          })
          .catch(reject);
      });
    },
  };
}
