/**
 * Values in files of their own, one per key, in `<directory>/values/`: how
 * earlier versions of `fileStorage` stored everything, and how it still reads
 * what they left (and a value a person puts there by hand). `fileStorage`
 * writes to its log (fileLog.ts) and only reads, removes and moves aside
 * these files; a value in the log hides the file of its key.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UnreadableValueError } from './storage.js';

/** Names longer than this are hashed (file names stop at 255 bytes). */
const MAX_NAME_LENGTH = 200;
const HASHED = '#';
export const SUFFIX = '.json';

/** What each file holds. */
interface StoredFile {
  readonly k: string;
  readonly v: string;
}

export class ValueFiles {
  readonly #dir: string;
  readonly #quarantineDir: string;
  readonly #onUnreadable: (error: Error) => void;
  /** The keys with a file, read once: files are only ever removed from here on. */
  #listed: Promise<Set<string>> | null = null;

  constructor(dir: string, quarantineDir: string, onUnreadable: (error: Error) => void) {
    this.#dir = dir;
    this.#quarantineDir = quarantineDir;
    this.#onUnreadable = onUnreadable;
  }

  keys(): Promise<Set<string>> {
    return (this.#listed ??= this.#list());
  }

  async get(key: string): Promise<string | undefined> {
    if (!(await this.keys()).has(key)) return undefined;
    let text: string;
    try {
      text = await readFile(this.#pathOf(key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const stored = parsed(text);
    if (!stored) throw new UnreadableValueError(key, text.length === 0 ? 'its file is empty' : 'its file is truncated or not written by fileStorage');
    return stored.v;
  }

  async delete(key: string): Promise<void> {
    const keys = await this.keys();
    if (!keys.has(key)) return;
    await rm(this.#pathOf(key), { force: true });
    keys.delete(key);
  }

  /** Moves the file of `key` into quarantine; resolves with its new path, or null when there is none. */
  async quarantine(key: string): Promise<string | null> {
    const keys = await this.keys();
    if (!keys.has(key)) return null;
    try {
      return await this.#moveAside(fileNameOf(key) + SUFFIX);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    } finally {
      keys.delete(key);
    }
  }

  #pathOf(key: string): string {
    return join(this.#dir, fileNameOf(key) + SUFFIX);
  }

  /** Moves a file into quarantine (a rename: it works however broken the file is); returns its new path. */
  async #moveAside(file: string): Promise<string> {
    await mkdir(this.#quarantineDir, { recursive: true });
    const aside = join(this.#quarantineDir, `${file.slice(0, -SUFFIX.length)}@${Date.now()}${SUFFIX}`);
    await rename(join(this.#dir, file), aside);
    return aside;
  }

  async #list(): Promise<Set<string>> {
    const keys = new Set<string>();
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return keys;
      throw error;
    }
    for (const name of names) {
      // Skips the temporary files (`<name>.json.<n>`) earlier versions left when killed mid-write.
      if (!name.endsWith(SUFFIX)) continue;
      const base = name.slice(0, -SUFFIX.length);
      if (!base.startsWith(HASHED)) {
        keys.add(decodeURIComponent(base));
        continue;
      }
      const stored = parsed(await readFile(join(this.#dir, name), 'utf8').catch(() => ''));
      if (stored) {
        keys.add(stored.k);
        continue;
      }
      // Its key is lost with its content: no one can ask for it, so it is moved aside here.
      const where = await this.#moveAside(name).catch(() => '(nowhere: the move failed)');
      this.#onUnreadable(new Error(`the file ${name} cannot be read (truncated or not written by fileStorage); moved to ${where}`));
    }
    return keys;
  }
}

function parsed(text: string): StoredFile | null {
  try {
    const value = JSON.parse(text) as Partial<StoredFile> | null;
    return typeof value === 'object' && value !== null && typeof value.k === 'string' && typeof value.v === 'string' ? (value as StoredFile) : null;
  } catch {
    return null;
  }
}

/** A file (or lock) name for `key`: encoded, or hashed when too long. */
export function fileNameOf(key: string): string {
  const encoded = encodeURIComponent(key);
  return encoded.length <= MAX_NAME_LENGTH ? encoded : HASHED + createHash('sha256').update(key).digest('hex');
}
