import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { nowMs } from '../lib/payload.js';
import { sleep } from '../lib/proc.js';

/**
 * V8's full collections (mark-compacts) in this process, counted from the
 * first call of `start()`: a scenario that measures a quiet server waits
 * for them to stop (`settle`), so that its window does not charge a system
 * for collecting what connecting thousands of clients allocated, and counts
 * those that run inside the window.
 */
export class MajorGcs {
  private observer: PerformanceObserver | null = null;
  private seen = 0;
  private lastAtMs = Number.NEGATIVE_INFINITY;

  /** Full collections since the first `start()`; null before it. */
  get count(): number | null {
    return this.observer ? this.seen : null;
  }

  start(): void {
    if (this.observer) return;
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
        if (detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
        this.seen++;
        this.lastAtMs = nowMs();
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /**
   * Resolves once no full collection has run for `quietMs` (counting from
   * this call at the earliest), or after `maxMs` whatever runs.
   */
  async settle(quietMs: number, maxMs: number): Promise<{ waitedMs: number; settled: boolean }> {
    this.start();
    const startMs = nowMs();
    for (;;) {
      const now = nowMs();
      const quietFor = now - Math.max(this.lastAtMs, startMs);
      if (quietFor >= quietMs) return { waitedMs: now - startMs, settled: true };
      const left = startMs + maxMs - now;
      if (left <= 0) return { waitedMs: now - startMs, settled: false };
      await sleep(Math.min(quietMs - quietFor, left));
    }
  }
}
