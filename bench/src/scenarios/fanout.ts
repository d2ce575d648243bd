import { creditWindow, type SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, subscriberKindOf, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import type { SystemName } from '../lib/protocol.js';
import { measurePublishing, type Measurement } from './measure.js';

export const FANOUT_SYSTEMS: readonly SystemName[] = ['raw-ws-string', 'raw-ws-frame', 'raw-ws-trpc', 'trpc', 'socketio', 'herald'];

export interface FanoutRow {
  readonly system: SystemName;
  readonly subscribers: number;
  /** `fixed`: a set number of deliveries per second; `max`: as fast as the subscribers take them. */
  readonly mode: 'fixed' | 'max';
  readonly targetPerSec: number | null;
  readonly measurement: Measurement;
}

export interface FanoutOptions {
  readonly systems: readonly SystemName[];
  readonly cpuProfDir?: string | undefined;
}

/**
 * Scenario 1: one server process per system and subscriber count, one load
 * generator holding every subscriber; first a fixed delivery rate, then max
 * rate, each measured over several windows.
 */
export async function runFanout(config: SuiteConfig, options: FanoutOptions): Promise<FanoutRow[]> {
  const rows: FanoutRow[] = [];
  for (const subscribers of config.fanout.subscribers) {
    for (const system of options.systems) {
      await withProcesses(async (track) => {
        const server = track(await ServerProcess.start({ system, port: 0 }, { cpuProfDir: options.cpuProfDir }));
        const loadgen = track(await LoadgenProcess.start());
        const connected = await loadgen.ipc.request(
          'connect',
          { kind: subscriberKindOf(system), urls: [server.url], count: subscribers, subscribe: true, concurrency: 100, reconnect: null },
          180_000,
        );
        if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${subscribers} ${system} subscribers failed to connect`);
        const count = connected.connected;
        const base = { servers: [server], publisher: server, loadgen, warmupMs: config.fanout.warmupMs, windowMs: config.fanout.windowMs, windows: config.fanout.windows };

        const target = config.fanout.fixedDeliveriesPerSec;
        const fixed = await measurePublishing({ ...base, plan: { mode: 'fixed', messagesPerSec: target / count } });
        rows.push({ system, subscribers, mode: 'fixed', targetPerSec: target, measurement: fixed });
        report(system, subscribers, 'fixed', fixed);

        const max = await measurePublishing({ ...base, plan: { mode: 'credit', subscribers: count, windowMessages: creditWindow(count) } });
        rows.push({ system, subscribers, mode: 'max', targetPerSec: null, measurement: max });
        report(system, subscribers, 'max', max);
      });
    }
  }
  return rows;
}

function report(system: SystemName, subscribers: number, mode: string, m: Measurement): void {
  const notes = [m.stalls > 0 ? `${m.stalls} stalls` : '', m.publishErrors > 0 ? `${m.publishErrors} publish errors` : '', m.errors > 0 ? `${m.errors} errors` : '']
    .filter(Boolean)
    .join(', ');
  log(
    `fanout ${system} N=${subscribers} ${mode}: ${fmt(m.rate.value)} deliveries/s, ${fmt(m.cpuUsPerEvent.value)} µs CPU/delivery ` +
      `(${fmt(m.serverSystemShare * 100, 0)}% in the kernel, ${fmt(m.writeSyscallsPerEvent)} write syscalls/delivery) ` +
      `(server ${fmt(m.serverCpuPct, 0)}%, loadgen ${fmt(m.loadgenCpuPct, 0)}%), p50 ${fmt(m.latency.p50)} ms p99 ${fmt(m.latency.p99)} ms${notes ? ` [${notes}]` : ''}`,
  );
}
