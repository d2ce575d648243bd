import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, subscriberKindOf, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import type { SystemName } from '../lib/protocol.js';
import { measured, median, type Measured } from '../lib/stats.js';
import { measurePublishing } from './measure.js';

/**
 * The servers of every round: Herald; the fixed-rate targets' baseline (raw
 * `ws.send(string)`); raw `ws` speaking tRPC's wire protocol (what the
 * protocol itself costs over the baseline); and a second baseline server as a
 * control (what two identical systems come to here).
 */
const ROLES = {
  herald: 'herald',
  baseline: 'raw-ws-string',
  protocol: 'raw-ws-trpc',
  control: 'raw-ws-string',
} as const satisfies Record<string, SystemName>;
type Role = keyof typeof ROLES;

export interface PairedFigures {
  /** Server CPU µs per delivery and window-median p99 ms: median over rounds (range across them). */
  readonly cpuUsPerDelivery: Measured;
  readonly p99Ms: Measured;
}

export interface PairedRatios {
  /** One system over another within each round (the runs of a round are seconds apart): median and range. */
  readonly cpu: Measured;
  readonly p99: Measured;
}

export interface PairedRow {
  readonly subscribers: number;
  readonly rounds: number;
  readonly figures: Record<Role, PairedFigures>;
  /** Herald over the baseline: the fixed-rate targets' figure. */
  readonly herald: PairedRatios;
  /** Herald over raw ws speaking the same protocol: Herald's own cost. */
  readonly heraldOverProtocol: PairedRatios;
  /** tRPC's wire over the baseline, both on raw ws: the protocol's cost. */
  readonly protocol: PairedRatios;
  /** The second baseline server over the first: the resolution of every ratio here. */
  readonly control: PairedRatios;
}

/**
 * The fixed-rate comparison with raw `ws`, made robust to a machine whose
 * speed drifts over minutes: the servers run side by side (only one
 * publishes at a time), the load generator holds every subscriber set, and
 * they are measured in turn for several rounds, the order rotating. Each
 * round's ratio compares runs seconds apart; a reported ratio is the median.
 */
export async function runPaired(config: SuiteConfig): Promise<PairedRow[]> {
  const rows: PairedRow[] = [];
  const { subscribers: counts, fixedDeliveriesPerSec, pairedRounds } = config.fanout;
  const roles = Object.keys(ROLES) as Role[];
  for (const subscribers of counts) {
    await withProcesses(async (track) => {
      const servers = {} as Record<Role, ServerProcess>;
      for (const role of roles) servers[role] = track(await ServerProcess.start({ system: ROLES[role], port: 0 }));
      const loadgen = track(await LoadgenProcess.start());
      const connected = {} as Record<Role, number>;
      for (const role of roles) {
        const server = servers[role];
        const result = await loadgen.ipc.request(
          'connect',
          { kind: subscriberKindOf(server.config.system), urls: [server.url], count: subscribers, subscribe: true, concurrency: 100, reconnect: null },
          180_000,
        );
        if (result.failed > 0) log(`  WARNING: ${result.failed} of ${subscribers} ${server.config.system} subscribers failed to connect`);
        connected[role] = result.connected;
      }
      const runs = Object.fromEntries(roles.map((role) => [role, [] as { cpu: number; p99: number }[]])) as Record<Role, { cpu: number; p99: number }[]>;
      for (let round = 0; round < pairedRounds; round++) {
        // Rotate the order, so no server always runs right after another's load.
        for (const role of roles.map((_, i) => roles[(i + round) % roles.length]!)) {
          const server = servers[role];
          const m = await measurePublishing({
            servers: [server],
            publisher: server,
            loadgen,
            warmupMs: config.fanout.warmupMs,
            windowMs: config.fanout.windowMs,
            windows: config.fanout.windows,
            plan: { mode: 'fixed', messagesPerSec: fixedDeliveriesPerSec / connected[role] },
          });
          runs[role].push({ cpu: m.cpuUsPerEvent.value, p99: m.windowP99.value });
        }
      }
      const figures = (role: Role): PairedFigures => {
        const list = runs[role];
        return {
          cpuUsPerDelivery: measured(median(list.map((r) => r.cpu)), list.map((r) => r.cpu)),
          p99Ms: measured(median(list.map((r) => r.p99)), list.map((r) => r.p99)),
        };
      };
      const ratios = (of: Role, over: Role): PairedRatios => {
        const per = (key: 'cpu' | 'p99') => {
          const list = runs[of].map((run, i) => run[key] / runs[over][i]![key]);
          return measured(median(list), list);
        };
        return { cpu: per('cpu'), p99: per('p99') };
      };
      const row: PairedRow = {
        subscribers,
        rounds: pairedRounds,
        figures: Object.fromEntries(roles.map((role) => [role, figures(role)])) as Record<Role, PairedFigures>,
        herald: ratios('herald', 'baseline'),
        heraldOverProtocol: ratios('herald', 'protocol'),
        protocol: ratios('protocol', 'baseline'),
        control: ratios('control', 'baseline'),
      };
      rows.push(row);
      const range = (m: Measured) => `${fmt(m.value)}x (${fmt(m.min)}–${fmt(m.max)})`;
      log(
        `paired fixed N=${subscribers}: Herald ${fmt(row.figures.herald.cpuUsPerDelivery.value)} vs raw ws ${fmt(row.figures.baseline.cpuUsPerDelivery.value)} µs CPU/delivery: ` +
          `CPU ${range(row.herald.cpu)}, p99 ${range(row.herald.p99)}; Herald vs raw ws on tRPC's wire: CPU ${range(row.heraldOverProtocol.cpu)}; ` +
          `tRPC's wire vs raw ws: CPU ${range(row.protocol.cpu)}; control (raw ws vs raw ws): CPU ${range(row.control.cpu)}, p99 ${range(row.control.p99)}`,
      );
    });
  }
  return rows;
}
