/**
 * Where `createPersistence` keeps outbox entries and subscription positions:
 * string values by string key, and named locks. Each write must be durable
 * when its promise resolves (a crash after that keeps it), and atomic (a
 * crash never leaves half a value). `fileStorage`, `indexedDbStorage` and
 * `memoryStorage` implement it; any other store with these five methods works.
 */
export interface HeraldStorage {
  /** The value stored under `key`, or undefined. */
  get(key: string): Promise<string | undefined>;
  /** Stores `value` under `key`, durably and atomically. */
  set(key: string, value: string): Promise<void>;
  /** Removes `key` (nothing happens when it is absent). */
  delete(key: string): Promise<void>;
  /** Every stored key that starts with `prefix`. */
  keys(prefix: string): Promise<string[]>;
  /**
   * Takes the lock `name` if no one holds it, without waiting: resolves with
   * the function that releases it, or null when another holder has it. Every
   * client (tab, process) on the same storage must see the same locks, and a
   * holder that dies (a closed tab, a killed process) must lose its locks.
   */
  tryLock(name: string): Promise<(() => Promise<void>) | null>;
}

/**
 * A storage in this process's memory: entries survive a client that is
 * closed and made again on the same storage, not a reload. For tests, and for
 * several clients of one process sharing an outbox.
 */
export function memoryStorage(): HeraldStorage {
  const values = new Map<string, string>();
  const held = new Set<string>();
  return {
    get: async (key) => values.get(key),
    set: async (key, value) => {
      values.set(key, value);
    },
    delete: async (key) => {
      values.delete(key);
    },
    keys: async (prefix) => [...values.keys()].filter((key) => key.startsWith(prefix)),
    tryLock: async (name) => {
      if (held.has(name)) return null;
      held.add(name);
      return async () => {
        held.delete(name);
      };
    },
  };
}
