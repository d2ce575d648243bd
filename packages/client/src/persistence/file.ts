/**
 * `fileStorage`: outbox entries and positions in a directory, for Node
 * services (docs/outbox.md). Each key is a file written atomically (a temporary
 * file, fsync, rename: `write-file-atomic`); locks are `proper-lockfile` lock
 * directories whose holder refreshes them, so a killed process loses its
 * locks after `lockStaleMs`.
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
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import type { HeraldStorage } from './storage.js';

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
  const stale = Math.max(2_000, options.lockStaleMs ?? fileStorageDefaults.lockStaleMs);
  const onLockLost = options.onLockLost ?? ((error: Error) => console.warn(`[herald] fileStorage lock lost: ${error.message}`));
  let made: Promise<unknown> | null = null;
  const ready = () => (made ??= Promise.all([mkdir(valuesDir, { recursive: true }), mkdir(locksDir, { recursive: true })]));
  const pathOf = (key: string) => join(valuesDir, fileNameOf(key) + SUFFIX);

  return {
    async get(key) {
      await ready();
      try {
        return (JSON.parse(await readFile(pathOf(key), 'utf8')) as { v: string }).v;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
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
          try {
            key = (JSON.parse(await readFile(join(valuesDir, name), 'utf8')) as { k: string }).k;
          } catch {
            continue; // removed meanwhile
          }
        } else {
          key = decodeURIComponent(base);
        }
        if (key.startsWith(prefix)) keys.push(key);
      }
      return keys;
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

function fileNameOf(key: string): string {
  const encoded = encodeURIComponent(key);
  return encoded.length <= MAX_NAME_LENGTH ? encoded : HASHED + createHash('sha256').update(key).digest('hex');
}
