/**
 * Where `createPersistence` keeps outbox entries and subscription positions:
 * string values by string key, and named locks. Each write must be durable
 * when its promise resolves (a crash after that keeps it), and atomic (a
 * crash never leaves half a value). `fileStorage`, `indexedDbStorage` and
 * `memoryStorage` implement it; any other store with these five methods works.
 */
export interface HeraldStorage {
  /**
   * The value stored under `key`, or undefined. A value that is there but
   * cannot be read as a string (a truncated file, a value of another type)
   * rejects with an `UnreadableValueError`, so that it is moved aside rather
   * than mistaken for a missing one.
   */
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
  /**
   * Optional: moves the value under `key` aside, where `keys` no longer lists
   * it but a person can still inspect it, even when it cannot be read;
   * resolves with where it went. Without it, `quarantine()` copies a readable
   * value under `quarantine/<key>@<time>` and deletes the original.
   */
  quarantine?(key: string): Promise<string>;
}

/** Keys of values moved aside start with this (storages without a `quarantine` method of their own). */
export const QUARANTINE_PREFIX = 'quarantine/';

/** The stable `code` of `UnreadableValueError`. */
export const UNREADABLE_VALUE = 'HERALD_UNREADABLE_VALUE';

/**
 * A value is stored under `key` but cannot be read as one: a truncated or
 * corrupt file, a value of another type. The persistence moves it aside
 * (`quarantine`) and goes on with the others.
 */
export class UnreadableValueError extends Error {
  readonly code = UNREADABLE_VALUE;
  readonly key: string;
  /** What is wrong with it ("its file is empty"). */
  readonly reason: string;

  constructor(key: string, reason: string, options?: ErrorOptions) {
    super(`The stored value ${key} cannot be read: ${reason}`, options);
    this.name = 'UnreadableValueError';
    this.key = key;
    this.reason = reason;
  }
}

/** Whether `error` says a value is there but unreadable (checked by code: storages may come from another copy of this module). */
export function isUnreadableValue(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === UNREADABLE_VALUE;
}

/** Why an `UnreadableValueError` could not read its value. */
export function unreadableReason(error: unknown): string {
  const reason = (error as { reason?: unknown } | null)?.reason;
  return typeof reason === 'string' ? reason : error instanceof Error ? error.message : String(error);
}

/** Moves the value under `key` aside (`storage.quarantine`, or a copy under `quarantine/`); resolves with where it went. */
export async function quarantine(storage: HeraldStorage, key: string): Promise<string> {
  if (storage.quarantine) return storage.quarantine(key);
  let value: string | undefined;
  try {
    value = await storage.get(key);
  } catch (error) {
    if (!isUnreadableValue(error)) throw error;
  }
  const aside = `${QUARANTINE_PREFIX}${key}@${Date.now()}`;
  if (value !== undefined) await storage.set(aside, value);
  await storage.delete(key);
  return value === undefined ? '(nowhere: the storage could not read it to copy it, and has no quarantine of its own)' : aside;
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
