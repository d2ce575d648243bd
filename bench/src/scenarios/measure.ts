import type { LoadgenProcess, ServerProcess } from '../lib/harness.js';
import { sleep } from '../lib/proc.js';
import type { CpuSample, LoadgenSnapshot, PublishPlan, ServerStats } from '../lib/protocol.js';
import { measured, median, type LatencySummary, type Measured } from '../lib/stats.js';

/** What one measured run (after its warm-up) comes to. */
export interface Measurement {
  /** Deliveries (or calls) per second, with the range across windows. */
  readonly rate: Measured;
  /** Server CPU (all server processes) per delivery or call, µs. */
  readonly cpuUsPerEvent: Measured;
  /** Server CPU as a share of one core (summed over server processes). */
  readonly serverCpuPct: number;
  /** The part of the server CPU spent in the kernel (system time over user + system). */
  readonly serverSystemShare: number;
  /** Server write system calls per delivery or call (NaN where /proc cannot tell). */
  readonly writeSyscallsPerEvent: number;
  readonly loadgenCpuPct: number;
  /** Load-generator CPU per delivery or call, µs (for RPC: what the client spends per call). */
  readonly loadgenCpuUsPerEvent: number;
  /** Over every delivery of every window: one stall from other work on the machine shows in the p99. */
  readonly latency: LatencySummary;
  /** p99 of each window: the median of the windows, and their range (robust to one disturbed window). */
  readonly windowP99: Measured;
  readonly groupLatency: readonly LatencySummary[];
  readonly events: number;
  /** Bytes the subscribers' sockets read per delivery (NaN where the clients cannot tell). */
  readonly wireBytesPerEvent: number;
  readonly errors: number;
  readonly published: number;
  readonly stalls: number;
  readonly publishErrors: number;
}

export interface MeasureOptions {
  readonly servers: readonly ServerProcess[];
  readonly loadgen: LoadgenProcess;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly windows: number;
  /** Extra CPU to count per window (for example Redis), µs between two calls. */
  readonly extraCpuUs?: () => number;
}

const cpuUs = (cpu: CpuSample) => cpu.userUs + cpu.systemUs;

/** A server's CPU use between two of its samples, µs per ms of its own wall clock. */
function cpuRate(from: ServerStats, to: ServerStats): number {
  const wallMs = to.cpu.atMs - from.cpu.atMs;
  return wallMs > 0 ? (cpuUs(to.cpu) - cpuUs(from.cpu)) / wallMs : 0;
}

interface Sample {
  readonly servers: ServerStats[];
  readonly loadgen: LoadgenSnapshot;
  readonly extraUs: number;
}

async function sample(options: MeasureOptions, startRun: boolean): Promise<Sample> {
  const [servers, loadgen] = await Promise.all([
    Promise.all(options.servers.map((server) => server.stats(false))),
    options.loadgen.ipc.request('snapshot', { startRun }),
  ]);
  return { servers, loadgen, extraUs: options.extraCpuUs?.() ?? 0 };
}

/**
 * Measures while something runs (publishing, or RPC loops started by the
 * caller): a warm-up, then `windows` windows. Each window's deliveries come
 * from the load generator and its CPU from every server process; the figures
 * are over all windows, the ranges across them.
 */
export async function measureWindows(options: MeasureOptions): Promise<Measurement> {
  await sleep(options.warmupMs);
  let previous = await sample(options, true);
  const first = previous;
  const rates: number[] = [];
  const costs: number[] = [];
  const p99s: number[] = [];
  let events = 0;
  let wireBytes = 0;
  let errors = 0;
  let serverUs = 0;
  for (let i = 0; i < options.windows; i++) {
    await sleep(options.windowMs);
    const current = await sample(options, false);
    const seconds = (current.loadgen.cpu.atMs - previous.loadgen.cpu.atMs) / 1000;
    // Each server's CPU rate over its own window (a saturated server answers `stats` late, so its
    // samples need not line up with the load generator's), applied to the load generator's window.
    const windowUs =
      current.servers.reduce((sum, stats, index) => sum + cpuRate(previous.servers[index]!, stats) * seconds * 1000, 0) +
      (current.extraUs - previous.extraUs);
    rates.push(current.loadgen.events / seconds);
    costs.push(current.loadgen.events > 0 ? windowUs / current.loadgen.events : Number.NaN);
    p99s.push(current.loadgen.all.p99);
    events += current.loadgen.events;
    wireBytes += current.loadgen.wireBytes;
    errors += current.loadgen.errors;
    serverUs += windowUs;
    previous = current;
  }
  const last = previous;
  const wallMs = last.loadgen.cpu.atMs - first.loadgen.cpu.atMs;
  const serverShare = last.servers.reduce((sum, stats, index) => sum + cpuRate(first.servers[index]!, stats), 0) / 1000;
  const total = (pick: (stats: ServerStats) => number) => last.servers.reduce((sum, stats, index) => sum + pick(stats) - pick(first.servers[index]!), 0);
  const serverUser = total((stats) => stats.cpu.userUs);
  const serverSystem = total((stats) => stats.cpu.systemUs);
  const writes = total((stats) => stats.writeSyscalls ?? Number.NaN);
  return {
    rate: measured((events * 1000) / wallMs, rates),
    cpuUsPerEvent: measured(events > 0 ? serverUs / events : Number.NaN, costs),
    serverCpuPct: serverShare * 100,
    serverSystemShare: serverSystem / (serverUser + serverSystem),
    writeSyscallsPerEvent: events > 0 ? writes / events : Number.NaN,
    loadgenCpuPct: ((cpuUs(last.loadgen.cpu) - cpuUs(first.loadgen.cpu)) / 1000 / wallMs) * 100,
    loadgenCpuUsPerEvent: events > 0 ? (cpuUs(last.loadgen.cpu) - cpuUs(first.loadgen.cpu)) / events : Number.NaN,
    latency: last.loadgen.runAll,
    windowP99: measured(median(p99s), p99s),
    groupLatency: last.loadgen.runGroups,
    events,
    wireBytesPerEvent: events > 0 && wireBytes > 0 ? wireBytes / events : Number.NaN,
    errors,
    published: total((stats) => stats.published),
    stalls: total((stats) => stats.stalls),
    publishErrors: total((stats) => stats.publishErrors),
  };
}

/**
 * One publishing run: `publisher` publishes by `plan` (a credit plan gets the
 * load generator's counts relayed), measured as `measureWindows` does, then
 * stopped and left to drain.
 */
export async function measurePublishing(
  options: MeasureOptions & { readonly publisher: ServerProcess; readonly plan: PublishPlan },
): Promise<Measurement> {
  const { loadgen, publisher, plan } = options;
  const creditStep = plan.mode === 'credit' ? Math.max(1, Math.floor((plan.subscribers * plan.windowMessages) / 4)) : 0;
  await loadgen.ipc.request('reset', { creditStep });
  const stopRelay = plan.mode === 'credit' ? loadgen.relayCredit(publisher) : () => undefined;
  await publisher.ipc.request('publish', plan);
  try {
    return await measureWindows(options);
  } finally {
    await publisher.ipc.request('stop', null);
    stopRelay();
    await loadgen.ipc.request('reset', { creditStep: 0 });
    await sleep(300); // in-flight deliveries drain before the next run
  }
}
