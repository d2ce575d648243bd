import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { measurePublishing, type Measurement } from './measure.js';

/**
 * `@herald/client`'s transports: one WebSocket, or HTTP with a Server-Sent
 * Events stream per subscription, served by the Node door (`http`) or by the
 * fetch handler in a Hono app (`http-fetch`).
 */
export const SSE_TRANSPORTS = ['websocket', 'http', 'http-fetch'] as const;
export type SseTransport = (typeof SSE_TRANSPORTS)[number];

/**
 * Deliveries the max-rate loop may have unacknowledged. The fan-out's window
 * (at most 64 messages) would leave a single subscriber waiting on the
 * acknowledgement round trip rather than on either transport; this many
 * keeps both busy and stays far under the channel's subscriber buffer
 * (10,000 messages by default), so no subscriber is dropped as slow.
 */
const MAX_RATE_IN_FLIGHT = 2_048;

export interface SseRow {
  readonly transport: SseTransport;
  readonly subscribers: number;
  /** `fixed`: a set delivery rate (latency); `max`: as fast as the subscribers take them. */
  readonly mode: 'fixed' | 'max';
  readonly messagesPerSec: number | null;
  readonly measurement: Measurement;
  /** Load-generator CPU per delivery, µs: what receiving costs `@herald/client` on each transport. */
  readonly loadgenUsPerDelivery: number;
}

/**
 * Scenario 8: Herald's HTTP fallback against its WebSocket. The same Herald
 * server (it serves both at once); `@herald/client` subscribers in the load
 * generator with `transport: 'websocket'` or `'http'`, one client and one
 * channel subscription each; `http` again against a server whose HTTP door
 * is the fetch handler in a Hono app (what the fetch adapter costs against
 * the Node door). First a fixed rate well under either
 * transport's ceiling (latency), then max rate (closed loop, as the fan-out
 * runs): server CPU per delivery shows what each transport costs the server,
 * the load generator's what it costs the client.
 */
export async function runSse(config: SuiteConfig): Promise<SseRow[]> {
  const rows: SseRow[] = [];
  const c = config.sse;
  for (const subscribers of c.subscribers) {
    for (const transport of SSE_TRANSPORTS) {
      await withProcesses(async (track) => {
        const server = track(await ServerProcess.start({ system: 'herald', port: 0, ...(transport === 'http-fetch' ? { httpDoor: 'fetch' as const } : {}) }));
        const loadgen = track(await LoadgenProcess.start());
        const connected = await loadgen.ipc.request(
          'connect',
          { kind: 'herald-client', transport: transport === 'websocket' ? 'websocket' : 'http', urls: [server.url], count: subscribers, subscribe: true, concurrency: 20, reconnect: null },
          120_000,
        );
        if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${subscribers} ${transport} subscribers failed to connect`);
        const count = connected.connected;
        if (count === 0) throw new Error(`no ${transport} subscriber connected`);
        const base = { servers: [server], publisher: server, loadgen, warmupMs: c.warmupMs, windowMs: c.windowMs, windows: c.windows };

        const messagesPerSec = Math.min(c.maxMessagesPerSec, c.fixedDeliveriesPerSec / count);
        const fixed = await measurePublishing({ ...base, plan: { mode: 'fixed', messagesPerSec } });
        rows.push(row(transport, subscribers, 'fixed', messagesPerSec, fixed));

        const max = await measurePublishing({ ...base, plan: { mode: 'credit', subscribers: count, windowMessages: Math.ceil(MAX_RATE_IN_FLIGHT / count) } });
        rows.push(row(transport, subscribers, 'max', null, max));
      });
    }
  }
  return rows;
}

function row(transport: SseTransport, subscribers: number, mode: SseRow['mode'], messagesPerSec: number | null, m: Measurement): SseRow {
  const result: SseRow = {
    transport,
    subscribers,
    mode,
    messagesPerSec,
    measurement: m,
    loadgenUsPerDelivery: m.rate.value > 0 ? ((m.loadgenCpuPct / 100) * 1_000_000) / m.rate.value : Number.NaN,
  };
  const notes = [m.stalls > 0 ? `${m.stalls} stalls` : '', m.publishErrors > 0 ? `${m.publishErrors} publish errors` : '', m.errors > 0 ? `${m.errors} errors` : '']
    .filter(Boolean)
    .join(', ');
  log(
    `sse ${transport} N=${subscribers} ${mode}: ${fmt(m.rate.value)} deliveries/s, ${fmt(m.cpuUsPerEvent.value)} µs server CPU/delivery, ` +
      `${fmt(result.loadgenUsPerDelivery)} µs client CPU/delivery (server ${fmt(m.serverCpuPct, 0)}%, loadgen ${fmt(m.loadgenCpuPct, 0)}%), ` +
      `p50 ${fmt(m.latency.p50)} ms p99 ${fmt(m.latency.p99)} ms${notes ? ` [${notes}]` : ''}`,
  );
  return result;
}

/** How the report names each transport. */
export const SSE_LABELS: Readonly<Record<SseTransport, string>> = { websocket: 'WebSocket', http: 'SSE (http)', 'http-fetch': 'SSE (fetch handler)' };

/**
 * The fetch handler against the Node door, per subscriber count and mode:
 * server CPU per delivery and p99 latency of `http-fetch` over `http`'s in
 * the same run (one line each; nothing when either is missing).
 */
export function fetchDoorRatioLines(rows: readonly SseRow[]): string[] {
  const lines: string[] = [];
  for (const fetched of rows.filter((row) => row.transport === 'http-fetch')) {
    const node = rows.find((row) => row.transport === 'http' && row.subscribers === fetched.subscribers && row.mode === fetched.mode);
    if (!node) continue;
    const cpu = fetched.measurement.cpuUsPerEvent.value / node.measurement.cpuUsPerEvent.value;
    const rate = fetched.measurement.rate.value / node.measurement.rate.value;
    const p99 = fetched.measurement.latency.p99 / node.measurement.latency.p99;
    lines.push(
      `SSE through the fetch handler vs the Node door, ${fetched.subscribers} subscriber(s), ${fetched.mode}: server CPU/delivery ${fmt(cpu)}x, deliveries/s ${fmt(rate)}x, p99 ${fmt(p99)}x`,
    );
  }
  return lines;
}
