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
  /** Herald over the baseline within each round (the two runs of a round are seconds apart), median and range. */
  readonly cpuRatio: Measured;
  readonly p99Ratio: Measured;
}

/**
 * The fixed-rate comparison with raw `ws`, made robust to a machine whose
 * speed drifts over minutes: both servers run side by side (only one
 * publishes at a time), the load generator holds both subscriber sets, and
 * the two are measured alternately for several rounds. Each round's ratio
 * compares runs seconds apart; the reported ratio is the median of them.
 */
export async function runPaired(config: SuiteConfig): Promise<PairedRow[]> {
  const rows: PairedRow[] = [];
  const { subscribers: counts, fixedDeliveriesPerSec, pairedRounds } = config.fanout;
  for (const subscribers of counts) {
    await withProcesses(async (track) => {
      const servers = {
        herald: track(await ServerProcess.start({ system: 'herald', port: 0 })),
        baseline: track(await ServerProcess.start({ system: BASELINE, port: 0 })),
      };
      const loadgen = track(await LoadgenProcess.start());
      const connected: Record<keyof typeof servers, number> = { herald: 0, baseline: 0 };
      for (const [name, server] of Object.entries(servers) as [keyof typeof servers, ServerProcess][]) {
        const result = await loadgen.ipc.request(
          'connect',
          { kind: subscriberKindOf(server.config.system), urls: [server.url], count: subscribers, subscribe: true, concurrency: 100, reconnect: null },
          180_000,
        );
        if (result.failed > 0) log(`  WARNING: ${result.failed} of ${subscribers} ${server.config.system} subscribers failed to connect`);
        connected[name] = result.connected;
      }
      const runs: Record<keyof typeof servers, { cpu: number; p99: number }[]> = { herald: [], baseline: [] };
      for (let round = 0; round < pairedRounds; round++) {
        // Alternate which goes first, so neither always runs right after the other's load.
        const order: (keyof typeof servers)[] = round % 2 === 0 ? ['baseline', 'herald'] : ['herald', 'baseline'];
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
      const cpuRatios = runs.herald.map((run, i) => run.cpu / runs.baseline[i]!.cpu);
      const p99Ratios = runs.herald.map((run, i) => run.p99 / runs.baseline[i]!.p99);
      const row: PairedRow = {
        subscribers,
        rounds: pairedRounds,
        herald: summary(runs.herald),
        baseline: summary(runs.baseline),
        cpuRatio: measured(median(cpuRatios), cpuRatios),
        p99Ratio: measured(median(p99Ratios), p99Ratios),
      };
      rows.push(row);
      log(
        `paired fixed N=${subscribers}: Herald ${fmt(row.herald.cpuUsPerDelivery.value)} vs raw ws ${fmt(row.baseline.cpuUsPerDelivery.value)} µs CPU/delivery ` +
          `(ratio ${fmt(row.cpuRatio.value)}x, rounds ${cpuRatios.map((r) => fmt(r)).join(' ')}); p99 ratio ${fmt(row.p99Ratio.value)}x`,
      );
    });
  }
  return rows;
}
