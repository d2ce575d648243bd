import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import type { TracingMode } from '../lib/protocol.js';
import { measurePublishing, measureWindows, type Measurement } from './measure.js';

/** The modes compared, `absent` (no @opentelemetry/api) first: the baseline of the ratios. */
export const TRACING_MODES: readonly TracingMode[] = ['absent', 'no-sdk', 'sdk'];

export interface TracingRow {
  readonly mode: TracingMode;
  /** `rpc`: a trivial query, 100 connections × 1 in flight (Herald's client); `fanout`: fixed-rate deliveries to the subscribers. */
  readonly load: 'rpc' | 'fanout';
  readonly round: number;
  readonly measurement: Measurement;
}

/** Server CPU per event of `mode` over `absent`'s, per round, for one load; their median is the figure. */
export function tracingRatios(rows: readonly TracingRow[], load: TracingRow['load'], mode: TracingMode): number[] {
  const ratios: number[] = [];
  const rounds = new Set(rows.map((row) => row.round));
  for (const round of rounds) {
    const of = (m: TracingMode) => rows.find((row) => row.load === load && row.round === round && row.mode === m)?.measurement.cpuUsPerEvent.value;
    const [value, base] = [of(mode), of('absent')];
    if (value !== undefined && base !== undefined && base > 0) ratios.push(value / base);
  }
  return ratios;
}

/**
 * What OpenTelemetry costs Herald's server: three Herald servers up at once,
 * one per mode (servers/tracing.ts), measured in turn for several rounds so
 * that a drift in the machine's speed falls on every mode alike. Each round
 * measures a trivial query at 100 connections and a fixed-rate fan-out (the
 * publishes are made in the server process, so with an SDK each is a publish
 * span and each delivery batch a span). Server CPU per call and per delivery
 * are compared with the server that cannot import @opentelemetry/api.
 */
export async function runTracing(config: SuiteConfig): Promise<TracingRow[]> {
  const rows: TracingRow[] = [];
  const { subscribers, deliveriesPerSec, rounds, warmupMs, windowMs, windows } = config.tracing;
  await withProcesses(async (track) => {
    const started: { mode: TracingMode; server: ServerProcess; loadgen: LoadgenProcess }[] = [];
    for (const mode of TRACING_MODES) {
      const server = track(await ServerProcess.start({ system: 'herald', port: 0, tracing: mode }));
      const loadgen = track(await LoadgenProcess.start());
      const connected = await loadgen.ipc.request(
        'connect',
        { kind: 'trpc-wire', urls: [server.url], count: subscribers, subscribe: true, concurrency: 100, reconnect: null },
        180_000,
      );
      if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${subscribers} subscribers of the ${mode} server failed to connect`);
      started.push({ mode, server, loadgen });
    }
    for (let round = 1; round <= rounds; round++) {
      for (const { mode, server, loadgen } of started) {
        await loadgen.ipc.request('reset', { creditStep: 0 });
        await loadgen.ipc.request('rpcStart', { kind: 'herald-client', url: server.url, connections: 100, depth: 1 }, 60_000);
        let rpc: Measurement;
        try {
          rpc = await measureWindows({ servers: [server], loadgen, warmupMs, windowMs, windows });
        } finally {
          await loadgen.ipc.request('rpcStop', null);
        }
        rows.push({ mode, load: 'rpc', round, measurement: rpc });
        log(`tracing ${mode} rpc round ${round}: ${fmt(rpc.rate.value)} calls/s, ${fmt(rpc.cpuUsPerEvent.value)} µs server CPU/call`);

        await loadgen.ipc.request('reset', { creditStep: 0 });
        const fanout = await measurePublishing({
          servers: [server],
          publisher: server,
          loadgen,
          warmupMs,
          windowMs,
          windows,
          plan: { mode: 'fixed', messagesPerSec: deliveriesPerSec / subscribers },
        });
        rows.push({ mode, load: 'fanout', round, measurement: fanout });
        log(`tracing ${mode} fanout round ${round}: ${fmt(fanout.rate.value)} deliveries/s, ${fmt(fanout.cpuUsPerEvent.value)} µs server CPU/delivery`);
      }
    }
  });
  return rows;
}
