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
import { del, get, keys, set, type UseStore } from 'idb-keyval';
import { QUARANTINE_PREFIX, UnreadableValueError, type HeraldStorage } from './storage.js';

export type { HeraldStorage } from './storage.js';

/** The options of `indexedDbStorage`. */
export interface IndexedDbStorageOptions {
  /**
   * The IndexedDB database name; clients on one name share an outbox. Use one
   * per signed-in user when several may use the browser.
   * @default 'herald'
   */
  database?: string;
  /**
   * How long opening the database may take before the call fails (and with
   * it `outbox.ready`), saying why. An open waits while another tab upgrades
   * the database and a third keeps it open, which can last until that tab
   * closes.
   * @default 10_000
   */
  openTimeoutMs?: number;
}

/** The defaults of `IndexedDbStorageOptions`, merged under the options passed. */
export const indexedDbStorageDefaults = { database: 'herald', openTimeoutMs: 10_000 } as const;

const STORE = 'keyval';

/** What the storage needs of `navigator.locks` (the Web Locks API). */
interface WebLocks {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: object | null) => Promise<void> | void): Promise<unknown>;
}

/**
 * The releases under way in this page, by lock name. A lock's callback
 * settling only starts its release: the request's promise resolves once the
 * lock manager has let it go, and until then an `ifAvailable` request for it
 * (a client made right after another closed, in the same tab) is refused.
 */
const releasing = new Map<string, Promise<unknown>>();

/** Lets the lock go and resolves once it is free (the Web Locks request's promise settles after the release). */
async function releaseLock(lockName: string, settle: () => void, request: Promise<unknown>): Promise<void> {
  settle();
  const done = request.then(
    () => undefined,
    () => undefined,
  );
  releasing.set(lockName, done);
  try {
    await done;
  } finally {
    if (releasing.get(lockName) === done) releasing.delete(lockName);
  }
}

/** A `HeraldStorage` in IndexedDB, with Web Locks. Pages without `navigator.locks` (an insecure context) are refused. */
export function indexedDbStorage(options: IndexedDbStorageOptions = {}): HeraldStorage {
  const database = options.database ?? indexedDbStorageDefaults.database;
  const store = reopeningStore(database, options.openTimeoutMs ?? indexedDbStorageDefaults.openTimeoutMs);
  return {
    async get(key) {
      const value = await get<unknown>(key, store);
      if (value === undefined || typeof value === 'string') return value;
      throw new UnreadableValueError(key, `it is a ${value === null ? 'null' : typeof value}, not a string`);
    },
    set: (key, value) => set(key, value, store),
    delete: (key) => del(key, store),
    keys: async (prefix) => (await keys<IDBValidKey>(store)).filter((key): key is string => typeof key === 'string' && key.startsWith(prefix)),
    async quarantine(key) {
      // Whatever its type, the value is kept as it is, under a key `keys` of the outbox or positions does not list.
      const aside = `${QUARANTINE_PREFIX}${key}@${Date.now()}`;
      await store(
        'readwrite',
        (objects) =>
          new Promise<void>((done, fail) => {
            const request = objects.get(key);
            request.onsuccess = () => {
              if (request.result !== undefined) objects.put(request.result, aside);
              objects.delete(key);
            };
            objects.transaction.oncomplete = () => done();
            objects.transaction.onerror = objects.transaction.onabort = () => fail(objects.transaction.error ?? new Error('the transaction was aborted'));
          }),
      );
      return `IndexedDB ${database}, key ${aside}`;
    },
    async tryLock(name) {
      const locks = (globalThis.navigator as { locks?: WebLocks } | undefined)?.locks;
      if (!locks) {
        throw new Error('indexedDbStorage needs the Web Locks API (navigator.locks), which browsers offer on https:// and http://localhost pages only');
      }
      const lockName = `herald:${name}`;
      // A client of this page closed a moment ago: its release is not done until the lock manager says so.
      await releasing.get(lockName);
      return new Promise((resolve, reject) => {
        let held = false;
        const request = locks.request(lockName, { ifAvailable: true }, (lock) => {
          if (!lock) {
            resolve(null);
            return;
          }
          // The lock is held until the promise the callback returned settles.
          return new Promise<void>((settle) => {
            held = true;
            resolve(() => releaseLock(lockName, settle, request));
          });
        });
        request.catch((error: unknown) => {
          if (!held) reject(error instanceof Error ? error : new Error(String(error)));
        });
      });
    },
  };
}

/**
 * idb-keyval's store over one connection that gives way: when another tab
 * (or a newer version of the app) opens the database at a higher version,
 * the connection closes so that upgrade is not blocked, and the next call
 * opens it again. idb-keyval's own `createStore` keeps its connection open
 * through a `versionchange`, which leaves the upgrading tab, and every tab
 * opened after it, waiting with no error (issue 32, item 9).
 *
 *     this tab ── open ── calls ──┐ versionchange: close      ┌── open again ── calls
 *     other tab ─────────────── open(v+1) ── upgrade ── done ──┘
 *
 * An open that does not complete within `openTimeoutMs` (another tab's
 * upgrade blocked by a third that never closes) fails the call, saying so.
 */
function reopeningStore(database: string, openTimeoutMs: number): UseStore {
  let opening: Promise<IDBDatabase> | null = null;
  const open = (): Promise<IDBDatabase> => {
    if (opening) return opening;
    const attempt = new Promise<IDBDatabase>((resolve, reject) => {
      const request = indexedDB.open(database);
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(
        () =>
          fail(
            new Error(
              `IndexedDB database "${database}" did not open within ${openTimeoutMs} ms: another tab is upgrading it and a tab that keeps it open blocks that upgrade. Close or reload the other tabs of this site`,
            ),
          ),
        openTimeoutMs,
      );
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onblocked = () =>
        fail(new Error(`IndexedDB database "${database}" cannot be created or upgraded: another tab keeps it open. Close or reload the other tabs of this site`));
      request.onerror = () => fail(request.error ?? new Error(`IndexedDB database "${database}" could not be opened`));
      request.onsuccess = () => {
        const db = request.result;
        if (settled) {
          db.close(); // given up on: a connection kept open would block the next upgrade in turn
          return;
        }
        settled = true;
        clearTimeout(timer);
        const forget = () => {
          if (opening === attempt) opening = null;
        };
        db.onversionchange = () => {
          db.close();
          forget();
        };
        db.onclose = forget;
        resolve(db);
      };
    });
    opening = attempt;
    attempt.catch(() => {
      if (opening === attempt) opening = null;
    });
    return attempt;
  };
  return async (mode, callback) => {
    let db = await open();
    let transaction: IDBTransaction;
    try {
      transaction = db.transaction(STORE, mode);
    } catch (error) {
      // Closed for another tab's upgrade between the open and this call: open again, once.
      if ((error as { name?: unknown }).name !== 'InvalidStateError') throw error;
      if (opening && (await opening.catch(() => null)) === db) opening = null;
      db = await open();
      transaction = db.transaction(STORE, mode);
    }
    return callback(transaction.objectStore(STORE));
  };
}
