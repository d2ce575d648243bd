/**
 * `fileStorage`: outbox entries and positions in a directory, for Node
 * services (docs/outbox.md). Values go to an append-only log, one segment
 * file per storage in `<directory>/log/` (fileLog.ts, fileSegment.ts): the
 * writes asked for while one is under way go out together, one write and one
 * `fdatasync` for the batch, so recording 100,000 entries costs a few hundred
 * syncs rather than 100,000. Every storage on the directory (in this process
 * or another) reads the others' segments before it answers, each one
 * compacts its own, and the segment of a storage that is gone (its lock
 * free) is taken in by the next one (fileAbsorber.ts). Files that earlier
 * versions wrote, one per key in `<directory>/values/`, are still read
 * (fileValues.ts). Locks are
 * `proper-lockfile` lock directories whose holder refreshes them, so a killed
 * process loses its locks after `lockStaleMs`. An old-format file that cannot
 * be read (truncated, not JSON) is moved into `<directory>/quarantine/` by
 * `quarantine(key)`, which the persistence calls when `get` rejects with
 * `UnreadableValueError`; a log record that cannot be read (a write cut short
 * by a crash) is skipped and reported through `onUnreadable`.
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
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { LogView } from './fileLog.js';
import { SegmentAbsorber, segmentLockName } from './fileAbsorber.js';
import { SegmentWriter } from './fileSegment.js';
import { fileNameOf, SUFFIX, ValueFiles } from './fileValues.js';
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
  /**
   * Gets what the storage skipped or moved aside on its own: log records
   * that cannot be read (a write cut short by a crash, a damaged file), old
   * per-key files with a hashed name (a key over 200 characters) whose key
   * cannot be read back (moved into `quarantine/`), a compaction of its log
   * that failed (tried again later; nothing is lost).
   * @default logs with `console.warn`
   */
  onUnreadable?: (error: Error) => void;
}

/** The defaults of `FileStorageOptions`, merged under the options passed. */
export const fileStorageDefaults = { lockStaleMs: 10_000 } as const;

/** A `HeraldStorage` in `directory`: an append-only log with group commit, lock directories with a lease. */
export function fileStorage(options: FileStorageOptions): HeraldStorage {
  const { directory } = options;
  const locksDir = join(directory, 'locks');
  const quarantineDir = join(directory, QUARANTINE_DIR);
  const stale = Math.max(2_000, options.lockStaleMs ?? fileStorageDefaults.lockStaleMs);
  const onLockLost = options.onLockLost ?? ((error: Error) => console.warn(`[herald] fileStorage lock lost: ${error.message}`));
  const onUnreadable = options.onUnreadable ?? ((error: Error) => console.warn(`[herald] fileStorage: ${error.message}`));
  const logDir = join(directory, 'log');
  const tryLock = async (name: string): Promise<(() => Promise<void>) | null> => {
    await ready();
    try {
      const release = await lockfile.lock(join(locksDir, fileNameOf(name)), { realpath: false, stale, retries: 0, onCompromised: onLockLost });
      return async () => {
        await release().catch(() => undefined); // already gone: nothing to release
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOCKED') return null;
      throw error;
    }
  };
  const writer = randomBytes(8).toString('hex');
  const view = new LogView(logDir, writer, onUnreadable);
  let segmentLock: Promise<unknown> | null = null;
  const lockSegment = async () => {
    segmentLock ??= tryLock(segmentLockName(writer)).then((release) => {
      if (!release) throw new Error(`fileStorage could not lock its log segment ${writer} (held by another storage)`);
    });
    await segmentLock.catch((error: unknown) => {
      segmentLock = null;
      throw error;
    });
  };
  const segment = new SegmentWriter(logDir, writer, view, lockSegment, onUnreadable);
  const absorber = new SegmentAbsorber(logDir, view, segment, tryLock, stale);
  const files = new ValueFiles(join(directory, 'values'), quarantineDir, onUnreadable);
  let made: Promise<unknown> | null = null;
  const ready = () => (made ??= Promise.all([mkdir(logDir, { recursive: true }), mkdir(locksDir, { recursive: true })]));
  /** Everything on disk when called is in the view once this resolves. */
  const current = async () => {
    await ready();
    await view.refresh();
    await absorber.maybeAbsorb().catch((error: unknown) => onUnreadable(new Error(`fileStorage could not take in a gone writer's log segment: ${(error as Error).message}`, { cause: error })));
  };

  return {
    async get(key) {
      await current();
      const slot = view.get(key);
      return slot ? slot.value : files.get(key);
    },
    async set(key, value) {
      await ready();
      await segment.append(key, value);
      await files.delete(key); // its old-layout file, if any: the log's value hides it from here on
    },
    async delete(key) {
      await ready();
      await segment.append(key, undefined);
      await files.delete(key);
    },
    async keys(prefix) {
      await current();
      const keys: string[] = [];
      for (const slot of view.slots()) if (slot.value !== undefined && slot.key.startsWith(prefix)) keys.push(slot.key);
      for (const key of await files.keys()) if (!view.get(key) && key.startsWith(prefix)) keys.push(key);
      return keys;
    },
    async quarantine(key) {
      await current();
      const slot = view.get(key);
      if (!slot) return (await files.quarantine(key)) ?? '(nothing: it was gone)';
      if (slot.value === undefined) return '(nothing: it was gone)';
      await mkdir(quarantineDir, { recursive: true });
      const aside = join(quarantineDir, `${fileNameOf(key)}@${Date.now()}${SUFFIX}`);
      await writeFile(aside, JSON.stringify({ k: key, v: slot.value }));
      await segment.append(key, undefined);
      return aside;
    },
    tryLock,
  };
}

/** The folder, inside the storage's directory, of files moved aside. */
export const QUARANTINE_DIR = 'quarantine';
