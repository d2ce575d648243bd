/**
 * The log `fileStorage` keeps its values in: one append-only segment file
 * per storage (per process) in `<directory>/log/`, named
 * `<writer>.<generation>.log`, and a view that merges every segment.
 *
 * Each line of a segment is one record, a JSON array: `[seq, writer, key,
 * value]` sets a key, `[seq, writer, key]` removes it. `seq` is a Lamport
 * clock: a writer numbers a record one above every record it has read, so a
 * process that read an entry (to take it over) writes its removal after it.
 * Of the records for one key the one with the highest `(seq, writer)` wins,
 * whichever segment holds it and in whatever order segments are read.
 *
 * A writer compacts its own segment by writing its winning records to the
 * next generation and removing the one before; a reader that sees a
 * segment's generation change (or the segment go) forgets what it took from
 * it and reads the new generation from the start.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A record as written: set when `value` is a string, removal when it is undefined. */
export interface LogRecord {
  readonly seq: number;
  readonly writer: string;
  readonly key: string;
  readonly value: string | undefined;
}

/** The winning record of a key in the view, with the segment it came from. */
export interface Slot extends LogRecord {
  /** The writer whose segment file holds it. */
  readonly from: string;
  /** Another segment that holds an older record of this key (a removal must be kept while it does), or null. */
  readonly below: string | null;
}

export const SEGMENT_SUFFIX = '.log';

export function segmentName(writer: string, generation: number): string {
  return `${writer}.${generation}${SEGMENT_SUFFIX}`;
}

/** One line (with its newline) for `record`. */
export function recordLine(record: LogRecord): string {
  const fields: unknown[] = [record.seq, record.writer, record.key];
  if (record.value !== undefined) fields.push(record.value);
  return `${JSON.stringify(fields)}\n`;
}

/** The record a line holds, or null when it is not one (a write cut short by a crash, a damaged file). */
export function parseRecord(line: string): LogRecord | null {
  let fields: unknown;
  try {
    fields = JSON.parse(line);
  } catch {
    return null;
  }
  if (!Array.isArray(fields) || (fields.length !== 3 && fields.length !== 4)) return null;
  const [seq, writer, key, value] = fields as unknown[];
  if (!Number.isSafeInteger(seq) || typeof writer !== 'string' || typeof key !== 'string') return null;
  if (fields.length === 4 && typeof value !== 'string') return null;
  return { seq: seq as number, writer, key, value: value as string | undefined };
}

function wins(a: LogRecord, b: LogRecord): boolean {
  return a.seq !== b.seq ? a.seq > b.seq : a.writer > b.writer;
}

interface ReadSegment {
  generation: number;
  /** Bytes consumed: up to the last complete line. */
  offset: number;
}

/**
 * Every key's winning record, from this storage's own writes (`apply` once
 * durable) and the other segments (`refresh` reads what they appended).
 */
export class LogView {
  readonly #dir: string;
  readonly #own: string;
  readonly #onUnreadable: (error: Error) => void;
  readonly #slots = new Map<string, Slot>();
  readonly #segments = new Map<string, ReadSegment>();
  /** The highest seq read or written. */
  #clock = 0;
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;

  constructor(dir: string, own: string, onUnreadable: (error: Error) => void) {
    this.#dir = dir;
    this.#own = own;
    this.#onUnreadable = onUnreadable;
  }

  get(key: string): Slot | undefined {
    return this.#slots.get(key);
  }

  slots(): IterableIterator<Slot> {
    return this.#slots.values();
  }

  /** The next seq to write: one above everything read. */
  tick(): number {
    return ++this.#clock;
  }

  apply(record: LogRecord, from: string): void {
    if (record.seq > this.#clock) this.#clock = record.seq;
    const current = this.#slots.get(record.key);
    if (current && record.seq === current.seq && record.writer === current.writer) {
      // The same record read again from another segment (a copy made by fileAbsorber.ts): that segment holds it now.
      this.#slots.set(record.key, { ...current, from });
      return;
    }
    if (current && !wins(record, current)) {
      if (current.below === null && current.from !== from) this.#slots.set(record.key, { ...current, below: from });
      return;
    }
    const below = current ? (current.from !== from ? current.from : current.below) : null;
    this.#slots.set(record.key, { ...record, from, below });
  }

  /** Whether `slot` must be kept: a value, or a removal while another segment holds an older record of its key. */
  needed(slot: Slot): boolean {
    return slot.value !== undefined || (slot.below !== null && this.#segments.has(slot.below));
  }

  /** Forgets the removal of `key` (its writer compacted it away: no other segment holds the key). */
  prune(key: string): void {
    this.#slots.delete(key);
  }

  /**
   * Reads what the other segments appended since the last refresh. Calls
   * made while one runs share the next one, which starts after it: what a
   * caller gets was on disk when it called.
   */
  refresh(): Promise<void> {
    if (!this.#running) {
      this.#running = this.#read().finally(() => {
        this.#running = null;
      });
      return this.#running;
    }
    this.#queued ??= this.#running.then(() => {
      this.#queued = null;
      return this.refresh();
    });
    return this.#queued;
  }

  async #read(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const newest = new Map<string, number>();
    for (const name of names) {
      if (!name.endsWith(SEGMENT_SUFFIX)) continue;
      const [writer, generation] = name.slice(0, -SEGMENT_SUFFIX.length).split('.');
      const number = Number(generation);
      if (!writer || writer === this.#own || !Number.isSafeInteger(number)) continue;
      if ((newest.get(writer) ?? -1) < number) newest.set(writer, number);
    }
    for (const [writer, read] of this.#segments) {
      const generation = newest.get(writer);
      if (generation === undefined) this.dropSegment(writer);
      else if (generation !== read.generation) this.#forget(writer);
    }
    for (const [writer, generation] of newest) {
      let read = this.#segments.get(writer);
      if (!read) this.#segments.set(writer, (read = { generation, offset: 0 }));
      await this.#readSegment(writer, read);
    }
  }

  /** The other writers whose segments were read. */
  writers(): string[] {
    return [...this.#segments.keys()];
  }

  /**
   * Stops reading a dead writer's segment, which was absorbed: what counts of
   * it was copied, same seq and writer, into another segment, so its values
   * stay; its removals that no other segment needs are forgotten.
   */
  dropSegment(writer: string): void {
    this.#segments.delete(writer);
    for (const [key, slot] of this.#slots) if (slot.from === writer && !this.needed(slot)) this.#slots.delete(key);
  }

  /** Drops what a segment gave: it was compacted, and is read again from the start. */
  #forget(writer: string): void {
    this.#segments.delete(writer);
    for (const [key, slot] of this.#slots) if (slot.from === writer) this.#slots.delete(key);
  }

  async #readSegment(writer: string, read: ReadSegment): Promise<void> {
    let handle;
    try {
      handle = await open(join(this.#dir, segmentName(writer, read.generation)), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // compacted meanwhile: the next refresh reads the next generation
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size <= read.offset) return;
      const bytes = Buffer.alloc(size - read.offset);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, read.offset);
      // Only complete lines: the writer may be in the middle of one.
      const end = bytes.lastIndexOf(0x0a, bytesRead - 1) + 1;
      if (end === 0) return;
      const text = bytes.toString('utf8', 0, end);
      let bad = 0;
      for (const line of text.split('\n')) {
        if (line === '') continue;
        const record = parseRecord(line);
        if (record) this.apply(record, writer);
        else bad++;
      }
      if (bad > 0) {
        this.#onUnreadable(new Error(`${bad} record(s) of ${segmentName(writer, read.generation)} cannot be read (a write cut short by a crash, or a damaged file) and were skipped`));
      }
      read.offset += end;
    } finally {
      await handle.close();
    }
  }
}
