/**
 * `fileStorage`: outbox entries and positions in a directory, for Node
 * services (docs/outbox.md). Each key is a file written atomically (a temporary
 * file, fsync, rename: `write-file-atomic`); locks are `proper-lockfile` lock
 * directories whose holder refreshes them, so a killed process loses its
 * locks after `lockStaleMs`. A file that cannot be read (truncated, not
 * JSON, not written by this storage) is moved into `<directory>/quarantine/`
 * by `quarantine(key)`, which the persistence calls when `get` rejects with
 * `UnreadableValueError`.
 *
 * @example
 * ```ts
 * import { createPersistence } from '@herald/client/persistence';
 * import { fileStorage } from '@herald/client/file';
 *
 * const client = createHeraldClient<AppRouter>({ url, persistence: createPersistence(fileStorage({ directory: '.herald-outbox' })) });
 * ```
 * @module @herald/client/file
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { UnreadableValueError, type HeraldStorage } from './storage.js';

export type { HeraldStorage } from './storage.js';

/** The options of `fileStorage`. */
export interface FileStorageOptions {
  /** The directory (made if missing). Processes that share it share the outbox. */
  directory: string;
  /**
   * A lock whose holder stopped refreshing it this long ago is taken as
   * abandoned (its process died): entries of a killed process are taken over
   * by another one after this long. At least 2_000 (`proper-lockfile`'s floor).
   * @default 10_000
   */
  lockStaleMs?: number;
  /**
   * Gets a lock this process held but lost (its directory removed or
   * refreshed by someone else, a clock jump).
   * @default logs with `console.warn`
   */
  onLockLost?: (error: Error) => void;
  /**
   * Gets the files `keys` moved into `quarantine/` on its own: files with a
   * hashed name (a key over 200 characters) whose key cannot be read back.
   * @default logs with `console.warn`
   */
  onUnreadable?: (error: Error) => void;
}

/** The defaults of `FileStorageOptions`, merged under the options passed. */
export const fileStorageDefaults = { lockStaleMs: 10_000 } as const;

/** Names longer than this are hashed (file names stop at 255 bytes). */
const MAX_NAME_LENGTH = 200;
const HASHED = '#';
const SUFFIX = '.json';

/** A `HeraldStorage` in `directory`: one file per key, atomic durable writes, lock directories with a lease. */
export function fileStorage(options: FileStorageOptions): HeraldStorage {
  const { directory } = options;
  const valuesDir = join(directory, 'values');
  const locksDir = join(directory, 'locks');
  const quarantineDir = join(directory, QUARANTINE_DIR);
  const stale = Math.max(2_000, options.lockStaleMs ?? fileStorageDefaults.lockStaleMs);
  const onLockLost = options.onLockLost ?? ((error: Error) => console.warn(`[herald] fileStorage lock lost: ${error.message}`));
  const onUnreadable = options.onUnreadable ?? ((error: Error) => console.warn(`[herald] fileStorage: ${error.message}`));
  let made: Promise<unknown> | null = null;
  const ready = () => (made ??= Promise.all([mkdir(valuesDir, { recursive: true }), mkdir(locksDir, { recursive: true })]));
  const pathOf = (key: string) => join(valuesDir, fileNameOf(key) + SUFFIX);
  /** Moves a file into quarantine/ (a rename: it works however broken the file is); returns its new path. */
  const moveAside = async (file: string): Promise<string> => {
    await mkdir(quarantineDir, { recursive: true });
    const aside = join(quarantineDir, `${file.slice(0, -SUFFIX.length)}@${Date.now()}${SUFFIX}`);
    await rename(join(valuesDir, file), aside);
    return aside;
  };

  return {
    async get(key) {
      await ready();
      let text: string;
      try {
        text = await readFile(pathOf(key), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
      return valueOf(key, text);
    },
    async set(key, value) {
      await ready();
      await writeFileAtomic(pathOf(key), JSON.stringify({ k: key, v: value }), { fsync: true });
    },
    async delete(key) {
      await ready();
      await rm(pathOf(key), { force: true });
    },
    async keys(prefix) {
      await ready();
      const keys: string[] = [];
      for (const name of await readdir(valuesDir)) {
        // Skips write-file-atomic's temporary files (`<name>.json.<n>`).
        if (!name.endsWith(SUFFIX)) continue;
        const base = name.slice(0, -SUFFIX.length);
        let key: string;
        if (base.startsWith(HASHED)) {
          let text: string;
          try {
            text = await readFile(join(valuesDir, name), 'utf8');
          } catch {
            continue; // removed meanwhile
          }
          const stored = parsed(text);
          if (!stored) {
            // Its key is lost with its content: no one can ask for it, so it is moved aside here.
            onUnreadable(new Error(`the file ${name} cannot be read (truncated or not written by fileStorage); moved to ${await moveAside(name).catch(() => '(nowhere: the move failed)')}`));
            continue;
          }
          key = stored.k;
        } else {
          key = decodeURIComponent(base);
        }
        if (key.startsWith(prefix)) keys.push(key);
      }
      return keys;
    },
    async quarantine(key) {
      await ready();
      try {
        return await moveAside(fileNameOf(key) + SUFFIX);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '(nothing: it was gone)';
        throw error;
      }
    },
    async tryLock(name) {
      await ready();
      try {
        const release = await lockfile.lock(join(locksDir, fileNameOf(name)), {
          realpath: false,
          stale,
          retries: 0,
          onCompromised: onLockLost,
        });
        return async () => {
          await release().catch(() => undefined); // already gone: nothing to release
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ELOCKED') return null;
        throw error;
      }
    },
  };
}

/** The folder, inside the storage's directory, of files moved aside. */
export const QUARANTINE_DIR = 'quarantine';

/** What fileStorage writes in each file. */
interface StoredFile {
  readonly k: string;
  readonly v: string;
}

function parsed(text: string): StoredFile | null {
  try {
    const value = JSON.parse(text) as Partial<StoredFile> | null;
    return typeof value === 'object' && value !== null && typeof value.k === 'string' && typeof value.v === 'string' ? (value as StoredFile) : null;
  } catch {
    return null;
  }
}

function valueOf(key: string, text: string): string {
  const stored = parsed(text);
  if (!stored) {
    throw new UnreadableValueError(key, text.length === 0 ? 'its file is empty' : 'its file is truncated or not written by fileStorage');
  }
  return stored.v;
}

function fileNameOf(key: string): string {
  const encoded = encodeURIComponent(key);
  return encoded.length <= MAX_NAME_LENGTH ? encoded : HASHED + createHash('sha256').update(key).digest('hex');
}
