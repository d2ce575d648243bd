import { transformer } from '@herald/shared';
import type { HeraldStorage } from './storage.js';

/** Storage keys of subscription positions start with this; the rest is the position's name. */
export const POSITION_PREFIX = 'position/';

/**
 * The last tracked id each subscription delivered, by name, kept in storage
 * so a subscription made again (after a reload, in a new process) resumes
 * where the old one stopped. All are read once at start; each new id is
 * written after the app's `onData` returned, at most one write per name in
 * flight (the newest id goes next), so a fast stream costs few writes.
 */
export class StoredPositions {
  readonly ready: Promise<void>;
  readonly #storage: HeraldStorage;
  readonly #onError: (error: Error) => void;
  readonly #positions = new Map<string, string>();
  readonly #writing = new Map<string, Promise<void>>();

  constructor(storage: HeraldStorage, onError: (error: Error) => void) {
    this.#storage = storage;
    this.#onError = onError;
    this.ready = this.#load().catch((error: unknown) => onError(error instanceof Error ? error : new Error(String(error))));
  }

  /** The stored position of `name`, once `ready` resolved. */
  get(name: string): string | undefined {
    return this.#positions.get(name);
  }

  /** `name` delivered `id`: store it. */
  record(name: string, id: string): void {
    this.#positions.set(name, id);
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
      const id = await this.#storage.get(key);
      if (id !== undefined) this.#positions.set(key.slice(POSITION_PREFIX.length), id);
    }
  }

  async #flush(name: string): Promise<void> {
    let written: string | undefined;
    for (let id = this.#positions.get(name); id !== written && id !== undefined; id = this.#positions.get(name)) {
      try {
        await this.#storage.set(POSITION_PREFIX + name, id);
      } catch (error) {
        this.#onError(error instanceof Error ? error : new Error(String(error)));
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
