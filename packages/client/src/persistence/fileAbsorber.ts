/**
 * Takes in the segments of writers that are gone (a killed or restarted
 * process), so that no segment outlives its writer: each writer holds the
 * lock `segment/<writer>` from its first record on, and a storage that can
 * take that lock copies the records of the segment that still count into
 * its own (same seq and writer: fileLog.ts), then removes the segment. Its
 * copies are compacted with its own records from then on, so a backlog taken
 * over after a restart leaves nothing behind once drained.
 */
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogRecord, LogView } from './fileLog.js';
import type { SegmentWriter } from './fileSegment.js';

/** The name of the lock a writer holds on its segment. */
export function segmentLockName(writer: string): string {
  return `segment/${writer}`;
}

export class SegmentAbsorber {
  readonly #dir: string;
  readonly #view: LogView;
  readonly #segment: SegmentWriter;
  readonly #tryLock: (name: string) => Promise<(() => Promise<void>) | null>;
  /** How long after a pass the next one may run: a writer's lock goes stale no sooner. */
  readonly #intervalMs: number;
  #last = -Infinity;
  #running: Promise<void> | null = null;

  constructor(dir: string, view: LogView, segment: SegmentWriter, tryLock: (name: string) => Promise<(() => Promise<void>) | null>, intervalMs: number) {
    this.#dir = dir;
    this.#view = view;
    this.#segment = segment;
    this.#tryLock = tryLock;
    this.#intervalMs = intervalMs;
  }

  /** Absorbs the dead writers' segments read so far, at most once per interval (the first call at once). */
  maybeAbsorb(): Promise<void> {
    if (this.#running) return this.#running;
    if (performance.now() - this.#last < this.#intervalMs) return Promise.resolve();
    this.#last = performance.now();
    this.#running = this.#absorbAll().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #absorbAll(): Promise<void> {
    for (const writer of this.#view.writers()) {
      const release = await this.#tryLock(segmentLockName(writer));
      if (!release) continue; // alive: it compacts its own segment
      try {
        await this.#absorb(writer);
      } finally {
        await release();
      }
    }
  }

  async #absorb(writer: string): Promise<void> {
    // Its writer is gone: reading to the end reads everything it will ever write.
    await this.#view.refresh();
    const copies: LogRecord[] = [];
    for (const slot of this.#view.slots()) {
      if (slot.from !== writer || !this.#view.needed(slot)) continue;
      copies.push({ seq: slot.seq, writer: slot.writer, key: slot.key, value: slot.value });
    }
    if (copies.length > 0) await this.#segment.copy(copies);
    for (const name of await readdir(this.#dir)) {
      if (name.startsWith(`${writer}.`)) await rm(join(this.#dir, name), { force: true });
    }
    this.#view.dropSegment(writer);
  }
}
