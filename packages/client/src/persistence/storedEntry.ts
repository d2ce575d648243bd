import type { OutboxError } from '../persistence.js';
import { isUnreadableValue, unreadableReason, type HeraldStorage } from './storage.js';

/** Storage keys of outbox entries start with this; the rest is the idempotency key. */
export const ENTRY_PREFIX = 'outbox/';
/**
 * The store's last epoch: each client takes the next one at start, so the
 * entries it writes sort after every entry written before it started
 * (`epoch`, then `seq`), whatever the wall clock says.
 */
export const EPOCH_KEY = 'outbox-epoch';
/** The format this outbox writes and reads; an entry of another is moved aside. */
export const ENTRY_VERSION = 1;

/** An entry as stored (JSON). */
export interface StoredEntry {
  readonly v: typeof ENTRY_VERSION;
  readonly key: string;
  readonly path: string;
  /** `transformer.serialize(input)`. */
  readonly input: unknown;
  /** When it was written (ms since the epoch, the writer's wall clock): shown to the app, and its age after a restart. */
  readonly createdAt: number;
  /** The store epoch of the client that wrote it (absent in entries written before epochs: 0, ordered by `createdAt`). */
  readonly epoch?: number;
  /** Its place among the entries of its epoch: 1, 2, 3... */
  readonly seq: number;
  /** The owner id of the client that wrote it; its lock's holder sends it. */
  readonly owner: string;
  state: 'pending' | 'failed';
  error: OutboxError | null;
}

/** Where an entry sits in send order: by epoch, then (for pre-epoch entries) createdAt, then seq, then key. */
export interface EntryOrder {
  readonly epoch: number;
  readonly createdAt: number;
  readonly seq: number;
  readonly key: string;
}

export function orderOf(stored: StoredEntry): EntryOrder {
  const epoch = stored.epoch ?? 0;
  // Only entries written before epochs are ordered by their wall clock: among them there is nothing else.
  return { epoch, createdAt: epoch === 0 ? stored.createdAt : 0, seq: stored.seq, key: stored.key };
}

export function isBefore(a: EntryOrder, b: EntryOrder): boolean {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch;
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  if (a.seq !== b.seq) return a.seq < b.seq;
  return a.key < b.key;
}

/** What reading one stored entry found. */
export type EntryRead =
  | { readonly type: 'entry'; readonly stored: StoredEntry }
  | { readonly type: 'gone' }
  /** There but unusable: moved aside. `owner` when it could be read (an entry of a newer format), so a live owner's is left alone. */
  | { readonly type: 'unreadable'; readonly reason: string; readonly owner: string | null; readonly partial: Partial<StoredEntry> | null }
  /** The storage failed to read it (not the entry's fault): tried again at the next claim. */
  | { readonly type: 'failed'; readonly error: Error };

export async function readEntry(storage: HeraldStorage, storageKey: string): Promise<EntryRead> {
  let text: string | undefined;
  try {
    text = await storage.get(storageKey);
  } catch (error) {
    if (isUnreadableValue(error)) return { type: 'unreadable', reason: unreadableReason(error), owner: null, partial: null };
    return { type: 'failed', error: error instanceof Error ? error : new Error(String(error)) };
  }
  if (text === undefined) return { type: 'gone' };
  const read = parseEntry(text);
  if (read.type === 'entry' && ENTRY_PREFIX + read.stored.key !== storageKey) {
    return { type: 'unreadable', reason: `its key ${JSON.stringify(read.stored.key)} is not the one it is stored under`, owner: null, partial: read.stored };
  }
  return read;
}

export function parseEntry(text: string): EntryRead {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: 'unreadable', reason: text.length === 0 ? 'it is empty' : 'it is not JSON (truncated?)', owner: null, partial: null };
  }
  if (typeof value !== 'object' || value === null) return { type: 'unreadable', reason: 'it is not an object', owner: null, partial: null };
  const entry = value as Partial<StoredEntry> & { v?: unknown };
  const owner = typeof entry.owner === 'string' ? entry.owner : null;
  if (entry.v !== ENTRY_VERSION) {
    return { type: 'unreadable', reason: `its format version is ${JSON.stringify(entry.v)}; this client reads ${ENTRY_VERSION}`, owner, partial: entry };
  }
  const fieldsOk =
    typeof entry.key === 'string' &&
    typeof entry.path === 'string' &&
    owner !== null &&
    typeof entry.createdAt === 'number' &&
    typeof entry.seq === 'number' &&
    (entry.epoch === undefined || typeof entry.epoch === 'number') &&
    (entry.state === 'pending' || entry.state === 'failed');
  if (!fieldsOk) return { type: 'unreadable', reason: 'a field is missing or of the wrong type', owner: null, partial: entry };
  return { type: 'entry', stored: { ...(entry as StoredEntry), error: entry.error ?? null } };
}
