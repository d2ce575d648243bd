import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { sleep } from '../lib/proc.js';
import { measurePublishing, type Measurement } from './measure.js';

/**
 * How a live run's subscribers get the room's messages: the live query over
 * its newest message; the room's channel at the same publish rate; or the
 * channel at the live run's delivery rate (`channel-matched`, the baseline
 * the target uses: the same deliveries per second, so the same share of
 * writes that leave at once rather than queued behind a busy socket).
 */
export type LiveMode = 'live' | 'channel' | 'channel-matched';

export interface LiveRow {
  /** Distinct inputs (rooms) the subscribers are spread over; publishes go round-robin over them. */
  readonly inputs: number;
  readonly subscribers: number;
  readonly mode: LiveMode;
  readonly publishesPerSec: number;
  readonly measurement: Measurement;
  /** Runs of the live query per second over the whole run (warm-up and drain included); 0 for the channel. */
  readonly recomputesPerSec: number;
  /** Server CPU with the subscribers connected and nothing published (heartbeats, timers), µs per second. */
  readonly idleCpuUsPerSec: number;
  /** Server CPU per delivery less the idle rate: what the deliveries themselves cost (the target compares this). */
  readonly cpuUsPerEventOverIdle: number;
}

/** How long the server's idle CPU is sampled before each run. */
const IDLE_MS = 1_000;

/**
 * Live queries against a plain channel of the same payload: one Herald
 * server, `subscribers` minimal tRPC-wire clients spread over `inputs`
 * rooms, `publishesPerSec` publishes round-robin over the rooms (see
 * `LiveMode` for the channel baselines). **channel**:
 * each subscriber takes the room's channel stream, so every publish is one
 * delivery per subscriber of its room. **live**: each subscriber takes
 * `herald.live` over the room's newest message (`onLatest`): every publish
 * makes the room's result stale, the server runs the query (coalesced: one
 * run at a time per room) and writes the result, the same 219-byte message,
 * to the room's subscribers. Deliveries carry the message's publish time,
 * so latency is publish to updated result. A server process per run; its
 * idle CPU (subscribers connected, nothing published) is sampled first and
 * taken out of the CPU per delivery the modes are compared by.
 */
export async function runLive(config: SuiteConfig): Promise<LiveRow[]> {
  const { subscribers, inputs: layouts, publishesPerSec } = config.live;
  const rows: LiveRow[] = [];
  for (const inputs of layouts) {
    let liveRate = 0;
    for (const mode of ['live', 'channel', 'channel-matched'] as const) {
      // The live run's deliveries per second, as publishes to rooms of `subscribers / inputs` subscribers each.
      const rate = mode === 'channel-matched' ? liveRate / (subscribers / inputs) : publishesPerSec;
      await withProcesses(async (track) => {
        const server = track(await ServerProcess.start({ system: 'herald', port: 0, ...(inputs > 1 ? { rooms: inputs } : {}) }));
        const loadgen = track(await LoadgenProcess.start());
        const connected = await loadgen.ipc.request(
          'connect',
          {
            kind: 'trpc-wire',
            urls: [server.url],
            count: subscribers,
            subscribe: true,
            concurrency: 100,
            reconnect: null,
            live: mode === 'live',
            ...(inputs > 1 ? { rooms: inputs } : {}),
          },
          180_000,
        );
        if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${subscribers} ${mode} subscribers failed to connect`);
        // The idle rate: at a low delivery rate it is most of the CPU per delivery, and the two modes deliver at different rates.
        const idleFrom = await server.stats(false);
        await sleep(IDLE_MS);
        const before = await server.stats(false);
        const idleCpuUsPerSec = ((before.cpu.userUs + before.cpu.systemUs - idleFrom.cpu.userUs - idleFrom.cpu.systemUs) * 1000) / (before.cpu.atMs - idleFrom.cpu.atMs);
        const measurement = await measurePublishing({
          servers: [server],
          publisher: server,
          loadgen,
          warmupMs: config.live.warmupMs,
          windowMs: config.live.windowMs,
          windows: config.live.windows,
          plan: { mode: 'fixed', messagesPerSec: rate },
        });
        const after = await server.stats(false);
        const seconds = (after.cpu.atMs - before.cpu.atMs) / 1000;
        const recomputesPerSec = mode === 'live' ? ((after.recomputes ?? 0) - (before.recomputes ?? 0)) / seconds : 0;
        const cpuUsPerEventOverIdle = measurement.cpuUsPerEvent.value - idleCpuUsPerSec / measurement.rate.value;
        if (mode === 'live') liveRate = measurement.rate.value;
        rows.push({ inputs, subscribers, mode, publishesPerSec: rate, measurement, recomputesPerSec, idleCpuUsPerSec, cpuUsPerEventOverIdle });
        log(
          `live ${mode} inputs=${inputs} N=${subscribers} @${fmt(rate)} publishes/s: ${fmt(measurement.rate.value)} deliveries/s, ` +
            `${fmt(measurement.cpuUsPerEvent.value)} µs CPU/delivery (${fmt(cpuUsPerEventOverIdle)} over idle), ${fmt(recomputesPerSec)} recomputes/s, ` +
            `${fmt(measurement.writeSyscallsPerEvent)} writes/delivery, p50 ${fmt(measurement.latency.p50)} ms p99 ${fmt(measurement.latency.p99)} ms${measurement.errors > 0 ? ` [${measurement.errors} errors]` : ''}`,
        );
      });
    }
  }
  return rows;
}
