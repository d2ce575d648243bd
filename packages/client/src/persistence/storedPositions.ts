import { transformer } from '@herald/shared';
import { isUnreadableValue, quarantine, unreadableReason, type HeraldStorage } from './storage.js';

/** Storage keys of subscription positions start with this; the rest is the position's name. */
export const POSITION_PREFIX = 'position/';

/**
 * The position a subscription resumes from when its stored one cannot be
 * read. No Herald broker issues it, so a Herald channel answers it with a
 * `gap` event of reason `unknown-position`, then goes live: the app learns it
 * may have missed messages instead of starting live without a word. (A
 * procedure of the app's own gets it as its `lastEventId`.)
 */
export const UNKNOWN_POSITION = 'herald:unknown-position';

/**
 * What is stored for a name: nothing (start as the input says), an id to
 * resume after, or `unknown`: something was stored but cannot be read, so
 * the subscription must not start live as if it were new.
 */
export type StoredPosition = { readonly type: 'none' } | { readonly type: 'id'; readonly id: string } | { readonly type: 'unknown'; readonly reason: string };

/**
 * The last tracked id each subscription delivered, by name, kept in storage
 * so a subscription made again (after a reload, in a new process) resumes
 * where the old one stopped. All are read once at start, each on its own: a
 * value that cannot be read is moved aside (`quarantine`), reported through
 * `onError`, and its name answers `unknown`; the others load as usual. Each
 * new id is written after the app's `onData` returned, at most one write per
 * name in flight (the newest id goes next), so a fast stream costs few writes.
 */
export class StoredPositions {
  readonly ready: Promise<void>;
  readonly #storage: HeraldStorage;
  readonly #onError: (error: Error) => void;
  readonly #positions = new Map<string, string>();
  /** Names whose stored position could not be read, with why. */
  readonly #unknown = new Map<string, string>();
  readonly #writing = new Map<string, Promise<void>>();

  constructor(storage: HeraldStorage, onError: (error: Error) => void) {
    this.#storage = storage;
    this.#onError = onError;
    this.ready = this.#load().catch((error: unknown) => onError(asError(error)));
  }

  /** The stored position of `name`, once `ready` resolved. */
  get(name: string): string | undefined {
    return this.#positions.get(name);
  }

  /** What is stored for `name`, once `ready` resolved: an id, nothing, or a position that could not be read. */
  lookup(name: string): StoredPosition {
    const id = this.#positions.get(name);
    if (id !== undefined) return { type: 'id', id };
    const reason = this.#unknown.get(name);
    return reason === undefined ? { type: 'none' } : { type: 'unknown', reason };
  }

  /** `name` delivered `id`: store it. */
  record(name: string, id: string): void {
    this.#positions.set(name, id);
    this.#unknown.delete(name);
    if (this.#writing.has(name)) return;
    const write = this.#flush(name).finally(() => this.#writing.delete(name));
    this.#writing.set(name, write);
  }

  /** Waits for the writes under way. */
  async close(): Promise<void> {
    await Promise.all(this.#writing.values());
  }

  async #load(): Promise<void> {
    for (const key of await this.#storage.keys(POSITION_PREFIX)) {
      const name = key.slice(POSITION_PREFIX.length);
      let id: string | undefined;
      try {
        id = await this.#storage.get(key);
      } catch (error) {
        if (isUnreadableValue(error)) {
          await this.#quarantine(key, name, unreadableReason(error));
        } else {
          // Not the value's fault (the storage failed): left in place, but this subscription must not start live silently either.
          this.#unknown.set(name, asError(error).message);
          this.#onError(new Error(`The stored position ${key} could not be read (${asError(error).message}); its subscription resumes from an unknown position`, { cause: error }));
        }
        continue;
      }
      if (id === undefined) continue; // removed meanwhile
      if (typeof id !== 'string' || id.length === 0) await this.#quarantine(key, name, typeof id === 'string' ? 'it is empty' : `it is a ${typeof id}, not an id`);
      else this.#positions.set(name, id);
    }
  }

  async #quarantine(key: string, name: string, reason: string): Promise<void> {
    this.#unknown.set(name, reason);
    const where = await quarantine(this.#storage, key).catch((error: unknown) => `nowhere (moving it failed: ${asError(error).message})`);
    this.#onError(new Error(`The stored position ${key} cannot be read (${reason}); it was moved to ${where}, and its subscription resumes from an unknown position (a gap)`));
  }

  async #flush(name: string): Promise<void> {
    let written: string | undefined;
    for (let id = this.#positions.get(name); id !== written && id !== undefined; id = this.#positions.get(name)) {
      try {
        await this.#storage.set(POSITION_PREFIX + name, id);
      } catch (error) {
        this.#onError(asError(error));
        return;
      }
      written = id;
    }
  }
}

/** The default name of a subscription's position: its path and its input without `lastEventId`. */
export function positionNameOf(path: string, input: unknown): string {
  let rest = input;
  if (typeof input === 'object' && input !== null && 'lastEventId' in input) {
    const { lastEventId: _, ...others } = input as Record<string, unknown>;
    rest = others;
  }
  return `${path}:${JSON.stringify(transformer.serialize(rest))}`;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
