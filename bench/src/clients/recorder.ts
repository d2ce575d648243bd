import { emitEvent } from '../lib/ipc.js';
import { nowMs } from '../lib/payload.js';
import type { LoadgenSnapshot } from '../lib/protocol.js';
import { Histogram, type LatencySummary } from '../lib/stats.js';

/** How often a partial progress count is flushed, so the publisher never waits on a step boundary. */
const PROGRESS_FLUSH_MS = 10;

/** Latencies per group (a group is, say, the node its clients are on). */
class GroupedHistograms {
  readonly groups: Histogram[] = [new Histogram()];

  at(group: number): Histogram {
    while (this.groups.length <= group) this.groups.push(new Histogram());
    return this.groups[group]!;
  }

  add(other: GroupedHistograms): void {
    other.groups.forEach((histogram, group) => this.at(group).add(histogram));
  }

  reset(): void {
    for (const histogram of this.groups) histogram.reset();
  }

  summaries(): { all: LatencySummary; groups: LatencySummary[] } {
    const all = new Histogram();
    for (const histogram of this.groups) all.add(histogram);
    return { all: all.summary(), groups: this.groups.map((histogram) => histogram.summary()) };
  }
}

/**
 * Counts what the load generator receives (deliveries, or completed calls)
 * and their latencies. `snapshot` closes a measurement window and adds it to
 * the run (or, with `startRun`, discards everything so far: the warm-up).
 * With a credit step set, it reports its running delivery count to the
 * orchestrator, which relays it to the publishing server as credit.
 */
export class Recorder {
  /** Everything received since `reset` (the credit count). */
  total = 0;
  private windowEvents = 0;
  private windowErrors = 0;
  private readonly window = new GroupedHistograms();
  private readonly run = new GroupedHistograms();
  private step = 0;
  private nextProgress = Number.POSITIVE_INFINITY;
  private reported = 0;
  private flushTimer: NodeJS.Timeout | null = null;

  /** Zeroes everything; `creditStep` > 0 turns on progress reports every that many events. */
  reset(creditStep: number): void {
    this.total = 0;
    this.windowEvents = 0;
    this.windowErrors = 0;
    this.window.reset();
    this.run.reset();
    this.step = creditStep;
    this.reported = 0;
    this.nextProgress = creditStep > 0 ? creditStep : Number.POSITIVE_INFINITY;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = null;
    if (creditStep > 0) {
      this.flushTimer = setInterval(() => {
        if (this.total !== this.reported) this.report();
      }, PROGRESS_FLUSH_MS);
    }
  }

  /** One message received, published at `sentAt` (shared clock), by a client of `group`. */
  delivery(group: number, sentAt: number): void {
    this.latency(group, nowMs() - sentAt);
  }

  /** One event with a known latency (ms). */
  latency(group: number, ms: number): void {
    (this.window.groups[group] ?? this.window.at(group)).record(ms);
    this.windowEvents++;
    if (++this.total >= this.nextProgress) this.report();
  }

  error(): void {
    this.windowErrors++;
  }

  snapshot(startRun: boolean, connections: number, wireBytes: number): LoadgenSnapshot {
    const window = this.window.summaries();
    if (startRun) this.run.reset();
    else this.run.add(this.window);
    const run = this.run.summaries();
    const cpu = process.cpuUsage();
    const snapshot: LoadgenSnapshot = {
      events: this.windowEvents,
      errors: this.windowErrors,
      all: window.all,
      groups: window.groups,
      runAll: run.all,
      runGroups: run.groups,
      cpu: { userUs: cpu.user, systemUs: cpu.system, atMs: nowMs() },
      connections,
      wireBytes,
    };
    this.window.reset();
    this.windowEvents = 0;
    this.windowErrors = 0;
    return snapshot;
  }

  private report(): void {
    this.reported = this.total;
    if (this.step > 0) this.nextProgress = this.total + this.step;
    emitEvent('progress', this.total);
  }
}
