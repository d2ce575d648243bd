import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import type { SubscriberKind, SystemName } from '../lib/protocol.js';
import { measurePublishing, type Measurement } from './measure.js';

/** Each system with its own client: `@herald/client` (a channel subscription) and `socket.io-client` (joined to the room). */
export const RECEIVE_PAIRS: readonly { readonly system: SystemName; readonly client: SubscriberKind }[] = [
  { system: 'herald', client: 'herald-client' },
  { system: 'socketio', client: 'socketio' },
];

/** One row of the receiving side: every round's measurement of it. */
export interface ReceiveRow {
  readonly system: SystemName;
  readonly client: SubscriberKind;
  readonly subscribers: number;
  readonly rounds: readonly Measurement[];
}

/**
 * Scenario 1b: what a client spends on each channel message it receives.
 * For each subscriber count, both servers up and their subscribers connected
 * in one load generator; then, in each round, each server publishes at the
 * fan-out's fixed rate (one message per tick, nothing to coalesce) while the
 * other idles, one after the other, so that a change in the machine's load
 * falls on both. The load generator's CPU per delivery is the clients' cost.
 */
export async function runReceive(config: SuiteConfig): Promise<ReceiveRow[]> {
  const rows: ReceiveRow[] = [];
  const { subscribers: counts, rounds } = config.receive;
  for (const subscribers of counts) {
    await withProcesses(async (track) => {
      const loadgen = track(await LoadgenProcess.start());
      const started: { pair: (typeof RECEIVE_PAIRS)[number]; server: ServerProcess; row: ReceiveRow }[] = [];
      for (const pair of RECEIVE_PAIRS) {
        const server = track(await ServerProcess.start({ system: pair.system, port: 0 }));
        const connected = await loadgen.ipc.request(
          'connect',
          { kind: pair.client, urls: [server.url], count: subscribers, subscribe: true, concurrency: 100, reconnect: null },
          180_000,
        );
        if (connected.failed > 0) throw new Error(`${connected.failed} of ${subscribers} ${pair.client} subscribers failed to connect`);
        const row: ReceiveRow = { system: pair.system, client: pair.client, subscribers, rounds: [] };
        rows.push(row);
        started.push({ pair, server, row });
      }
      const target = config.fanout.fixedDeliveriesPerSec;
      for (let round = 0; round < rounds; round++) {
        for (const { pair, server, row } of started) {
          const base = { servers: [server], publisher: server, loadgen, warmupMs: config.fanout.warmupMs, windowMs: config.fanout.windowMs, windows: config.fanout.windows };
          const measurement = await measurePublishing({ ...base, plan: { mode: 'fixed', messagesPerSec: target / subscribers } });
          (row.rounds as Measurement[]).push(measurement);
          log(
            `receive ${pair.client} N=${subscribers} round ${round + 1}: ${fmt(measurement.rate.value)} deliveries/s, ` +
              `${fmt(measurement.loadgenCpuUsPerEvent)} µs client CPU/delivery (loadgen ${fmt(measurement.loadgenCpuPct, 0)}%)` +
              `${measurement.errors ? ` [${measurement.errors} errors]` : ''}`,
          );
        }
      }
      await loadgen.ipc.request('closeAll', null);
    });
  }
  return rows;
}
