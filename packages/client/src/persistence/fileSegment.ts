/**
 * The segment one `fileStorage` appends to (fileLog.ts has the format), with
 * group commit: the records asked for while a write is under way go out
 * together in the next one, one `write` and one `fdatasync` for all of them,
 * and each caller's promise resolves once its record is on disk. A write that
 * fails (a full disk, a read-only store) rejects every record of its batch and
 * cuts the file back to where it was, so no record of a failed call is left
 * for a reader. The writer compacts its segment once at most half its records
 * still count.
 */
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { recordLine, segmentName, type LogRecord, type LogView, type Slot } from './fileLog.js';

/** A segment is compacted once it holds this many records and at most half of them still count. */
const COMPACT_MIN_RECORDS = 1_024;

interface Waiting {
  readonly key: string;
  readonly value: string | undefined;
  /** A record copied as it is (from a dead writer's segment), not numbered again. */
  readonly copy?: LogRecord;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

export class SegmentWriter {
  readonly #dir: string;
  readonly #view: LogView;
  /** This storage's name in the log (and its segment's). */
  readonly writer: string;
  #generation = 0;
  #made = false;
  /** Bytes of the segment: where the next batch starts. */
  #size = 0;
  /** Records in the segment's current generation. */
  #records = 0;
  /** Records that counted at the last compaction (or check): the next check waits for twice as many. */
  #counted = 0;
  /** A batch failed and the file could not be cut back: the next batch starts on a fresh line. */
  #dirty = false;
  #waiting: Waiting[] = [];
  /** A flush runs: records asked for now join its next batch. */
  #flushing = false;

  readonly #onError: (error: Error) => void;

  readonly #lock: () => Promise<void>;

  constructor(dir: string, writer: string, view: LogView, lock: () => Promise<void>, onError: (error: Error) => void) {
    this.#dir = dir;
    this.#lock = lock;
    this.writer = writer;
    this.#view = view;
    this.#onError = onError;
  }

  /** Appends a set (`value` a string) or a removal (`value` undefined); resolves once it is durable. */
  append(key: string, value: string | undefined): Promise<void> {
    return this.#enqueue(key, value, undefined);
  }

  /**
   * Appends records of another writer's segment as they are (same seq and
   * writer, so they win and lose as they did there); resolves once durable.
   */
  copy(records: readonly LogRecord[]): Promise<void> {
    return Promise.all(records.map((record) => this.#enqueue(record.key, record.value, record))).then(() => undefined);
  }

  #enqueue(key: string, value: string | undefined, copy: LogRecord | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ key, value, ...(copy ? { copy } : {}), resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting;
        this.#waiting = [];
        await this.#write(batch);
        if (this.#records >= COMPACT_MIN_RECORDS && this.#records >= 2 * this.#counted) {
          // A failed compaction loses nothing (the segment stays as it was) and is tried again once the segment doubles.
          await this.#compactIfWasteful().catch((error: unknown) => this.#onError(new Error(`fileStorage could not compact its log: ${(error as Error).message}`, { cause: error })));
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #write(batch: Waiting[]): Promise<void> {
    const records = batch.map(({ key, value, copy }) => copy ?? { seq: this.#view.tick(), writer: this.writer, key, value });
    const text = (this.#dirty ? '\n' : '') + records.map(recordLine).join('');
    const bytes = Buffer.from(text);
    let handle: FileHandle | null = null;
    try {
      handle = await this.#open();
      // A write may be short (a file size limit reached mid-batch): the rest goes on, or fails with the reason.
      for (let written = 0; written < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, this.#size + written);
        if (bytesWritten === 0) throw new Error(`fileStorage could not write to ${segmentName(this.writer, this.#generation)}: no byte was taken`);
        written += bytesWritten;
      }
      await handle.datasync();
      this.#size += bytes.length;
      this.#records += records.length;
      this.#dirty = false;
    } catch (error) {
      await this.#cutBack(handle);
      for (const waiting of batch) waiting.reject(error as Error);
      return;
    } finally {
      await handle?.close().catch(() => undefined);
    }
    for (const record of records) this.#view.apply(record, this.writer);
    for (const waiting of batch) waiting.resolve();
  }

  /** The segment, opened for one batch (a storage has no close: an open file would outlive it). */
  async #open(): Promise<FileHandle> {
    if (!this.#made) {
      await mkdir(this.#dir, { recursive: true });
      this.#made = true;
    }
    const path = join(this.#dir, segmentName(this.writer, this.#generation));
    return open(path, 'r+').catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' || this.#size !== 0) throw error;
      await this.#lock(); // held while this storage lives: a segment whose lock is free is a dead writer's (fileAbsorber.ts)
      const handle = await open(path, 'wx');
      await syncDirectory(this.#dir); // the new file's name survives a crash, as its records will
      return handle;
    });
  }

  async #cutBack(handle: FileHandle | null): Promise<void> {
    try {
      await handle?.truncate(this.#size);
    } catch {
      this.#dirty = true;
    }
  }

  /** Rewrites the segment with its records that still count, if at most half of them do. */
  async #compactIfWasteful(): Promise<void> {
    const kept: Slot[] = [];
    const pruned: string[] = [];
    for (const slot of this.#view.slots()) {
      if (slot.from !== this.writer) continue;
      // A removal matters only while another segment may hold the key it removes.
      if (this.#view.needed(slot)) kept.push(slot);
      else pruned.push(slot.key);
    }
    this.#counted = kept.length;
    if (kept.length * 2 > this.#records) return;
    this.#counted = this.#records; // if this fails, tried again once the segment doubles
    const next = this.#generation + 1;
    const temporary = join(this.#dir, `${this.writer}.${next}.tmp`);
    const text = Buffer.from(kept.map(recordLine).join(''));
    const handle = await open(temporary, 'w');
    try {
      await handle.write(text, 0, text.length, 0);
      await handle.datasync();
    } catch (error) {
      await handle.close();
      await rm(temporary, { force: true });
      throw error;
    }
    await handle.close();
    await rename(temporary, join(this.#dir, segmentName(this.writer, next)));
    await syncDirectory(this.#dir);
    this.#generation = next;
    this.#size = text.length;
    this.#records = kept.length;
    this.#counted = kept.length;
    await rm(join(this.#dir, segmentName(this.writer, next - 1)), { force: true });
    for (const key of pruned) this.#view.prune(key);
  }
}

/** Makes a rename in `dir` durable. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
