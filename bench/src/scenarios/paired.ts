import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, subscriberKindOf, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import type { SystemName } from '../lib/protocol.js';
import { measured, median, type Measured } from '../lib/stats.js';
import { measurePublishing } from './measure.js';

/** The fixed-rate targets compare Herald with this baseline. */
const BASELINE: SystemName = 'raw-ws-string';

export interface PairedRow {
  readonly subscribers: number;
  readonly rounds: number;
  /** Per system: server CPU µs per delivery and window-median p99 ms, median over rounds (range across them). */
  readonly herald: { readonly cpuUsPerDelivery: Measured; readonly p99Ms: Measured };
  readonly baseline: { readonly cpuUsPerDelivery: Measured; readonly p99Ms: Measured };
  /** Herald over the baseline within each round (the runs of a round are seconds apart), median and range. */
  readonly cpuRatio: Measured;
  readonly p99Ratio: Measured;
  /**
   * A second server of the baseline's kind over the baseline, measured the
   * same way: what the ratio of two identical systems comes to here (the
   * measurement's resolution on this machine).
   */
  readonly controlCpuRatio: Measured;
  readonly controlP99Ratio: Measured;
}

/**
 * The fixed-rate comparison with raw `ws`, made robust to a machine whose
 * speed drifts over minutes: both servers run side by side (only one
 * publishes at a time), the load generator holds both subscriber sets, and
 * the two are measured alternately for several rounds. Each round's ratio
 * compares runs seconds apart; the reported ratio is the median of them. A
 * third server, a second copy of the baseline, runs in every round as a
 * control: its ratio to the baseline shows how far two identical systems
 * differ here.
 */
export async function runPaired(config: SuiteConfig): Promise<PairedRow[]> {
  const rows: PairedRow[] = [];
  const { subscribers: counts, fixedDeliveriesPerSec, pairedRounds } = config.fanout;
  for (const subscribers of counts) {
    await withProcesses(async (track) => {
      const servers = {
        herald: track(await ServerProcess.start({ system: 'herald', port: 0 })),
        baseline: track(await ServerProcess.start({ system: BASELINE, port: 0 })),
        control: track(await ServerProcess.start({ system: BASELINE, port: 0 })),
      };
      const names = Object.keys(servers) as (keyof typeof servers)[];
      const loadgen = track(await LoadgenProcess.start());
      const connected = {} as Record<keyof typeof servers, number>;
      for (const name of names) {
        const server = servers[name];
        const result = await loadgen.ipc.request(
          'connect',
          { kind: subscriberKindOf(server.config.system), urls: [server.url], count: subscribers, subscribe: true, concurrency: 100, reconnect: null },
          180_000,
        );
        if (result.failed > 0) log(`  WARNING: ${result.failed} of ${subscribers} ${server.config.system} subscribers failed to connect`);
        connected[name] = result.connected;
      }
      const runs: Record<keyof typeof servers, { cpu: number; p99: number }[]> = { herald: [], baseline: [], control: [] };
      for (let round = 0; round < pairedRounds; round++) {
        // Rotate the order, so no server always runs right after another's load.
        const order = names.map((_, i) => names[(i + round) % names.length]!);
        for (const name of order) {
          const server = servers[name];
          const m = await measurePublishing({
            servers: [server],
            publisher: server,
            loadgen,
            warmupMs: config.fanout.warmupMs,
            windowMs: config.fanout.windowMs,
            windows: config.fanout.windows,
            plan: { mode: 'fixed', messagesPerSec: fixedDeliveriesPerSec / connected[name] },
          });
          runs[name].push({ cpu: m.cpuUsPerEvent.value, p99: m.windowP99.value });
        }
      }
      const summary = (list: { cpu: number; p99: number }[]) => ({
        cpuUsPerDelivery: measured(median(list.map((r) => r.cpu)), list.map((r) => r.cpu)),
        p99Ms: measured(median(list.map((r) => r.p99)), list.map((r) => r.p99)),
      });
      const ratios = (of: keyof typeof servers, key: 'cpu' | 'p99') => {
        const list = runs[of].map((run, i) => run[key] / runs.baseline[i]![key]);
        return measured(median(list), list);
      };
      const row: PairedRow = {
        subscribers,
        rounds: pairedRounds,
        herald: summary(runs.herald),
        baseline: summary(runs.baseline),
        cpuRatio: ratios('herald', 'cpu'),
        p99Ratio: ratios('herald', 'p99'),
        controlCpuRatio: ratios('control', 'cpu'),
        controlP99Ratio: ratios('control', 'p99'),
      };
      rows.push(row);
      const range = (m: Measured) => `${fmt(m.value)}x (${fmt(m.min)}–${fmt(m.max)})`;
      log(
        `paired fixed N=${subscribers}: Herald ${fmt(row.herald.cpuUsPerDelivery.value)} vs raw ws ${fmt(row.baseline.cpuUsPerDelivery.value)} µs CPU/delivery, ` +
          `ratio ${range(row.cpuRatio)}, p99 ratio ${range(row.p99Ratio)}; control (raw ws vs raw ws): CPU ${range(row.controlCpuRatio)}, p99 ${range(row.controlP99Ratio)}`,
      );
    });
  }
  return rows;
}
