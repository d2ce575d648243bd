import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { PAYLOAD_BYTES } from '../lib/payload.js';
import type { ServerConfig } from '../lib/protocol.js';
import { measurePublishing, type Measurement } from './measure.js';

export interface DeflateVariant {
  readonly label: string;
  readonly payloadBytes: number;
  /** Herald's `compression` option, or null for none (the baseline of its payload size). */
  readonly compression: ServerConfig['compression'] | null;
}

export interface DeflateRow {
  readonly variant: DeflateVariant;
  readonly subscribers: number;
  readonly measurement: Measurement;
  /** Server memory per connection after the run (zlib state included), over its baseline before connecting. */
  readonly rssPerConnection: number;
  readonly heapPerConnection: number;
}

/** Herald's default threshold: frames under 1 KiB are not worth compressing. */
const THRESHOLD = 1_024;

export function deflateVariants(config: SuiteConfig): DeflateVariant[] {
  const large = config.deflate.largePayloadBytes;
  return [
    { label: 'off', payloadBytes: PAYLOAD_BYTES, compression: null },
    { label: 'on, under the threshold', payloadBytes: PAYLOAD_BYTES, compression: { threshold: THRESHOLD, contextTakeover: false } },
    { label: 'off', payloadBytes: large, compression: null },
    { label: 'on, no context takeover (default)', payloadBytes: large, compression: { threshold: THRESHOLD, contextTakeover: false } },
    { label: 'on, context takeover', payloadBytes: large, compression: { threshold: THRESHOLD, contextTakeover: true } },
  ];
}

/**
 * Scenario 6: what permessage-deflate costs and saves. Herald with and
 * without `compression`, the fan-out's 219-byte messages (under the default
 * threshold, so never compressed) and 4 KiB ones of varied text, at a fixed
 * delivery rate; clients offer the extension as browsers do. Reported:
 * server CPU and wire bytes per delivery, and memory per connection.
 */
export async function runDeflate(config: SuiteConfig): Promise<DeflateRow[]> {
  const rows: DeflateRow[] = [];
  const { subscribers, deliveriesPerSec } = config.deflate;
  for (const variant of deflateVariants(config)) {
    await withProcesses(async (track) => {
      const server = track(
        await ServerProcess.start({
          system: 'herald',
          port: 0,
          payloadBytes: variant.payloadBytes,
          ...(variant.compression ? { compression: variant.compression } : {}),
        }),
      );
      const loadgen = track(await LoadgenProcess.start());
      const base = await server.stats(true);
      const connected = await loadgen.ipc.request(
        'connect',
        { kind: 'trpc-wire', urls: [server.url], count: subscribers, subscribe: true, deflate: true, concurrency: 100, reconnect: null },
        180_000,
      );
      if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${subscribers} subscribers failed to connect`);
      const count = connected.connected;
      const measurement = await measurePublishing({
        servers: [server],
        publisher: server,
        loadgen,
        warmupMs: config.deflate.warmupMs,
        windowMs: config.deflate.windowMs,
        windows: config.deflate.windows,
        plan: { mode: 'fixed', messagesPerSec: deliveriesPerSec / count },
      });
      const after = await server.stats(true);
      const row: DeflateRow = {
        variant,
        subscribers: count,
        measurement,
        rssPerConnection: (after.rss - base.rss) / count,
        heapPerConnection: (after.heapUsed + after.external - (base.heapUsed + base.external)) / count,
      };
      rows.push(row);
      log(
        `deflate ${variant.payloadBytes} B ${variant.label}: ${fmt(measurement.cpuUsPerEvent.value)} µs CPU/delivery, ` +
          `${fmt(measurement.wireBytesPerEvent, 0)} wire bytes/delivery, loadgen ${fmt(measurement.loadgenCpuPct, 0)}%, ` +
          `${fmt(row.rssPerConnection / 1024)} KiB RSS/connection, p50 ${fmt(measurement.latency.p50)} ms p99 ${fmt(measurement.latency.p99)} ms`,
      );
    });
  }
  return rows;
}

/** The uncompressed row of `row`'s payload size (its baseline), if it ran. */
export function baselineOf(rows: readonly DeflateRow[], row: DeflateRow): DeflateRow | undefined {
  return rows.find((candidate) => candidate.variant.compression === null && candidate.variant.payloadBytes === row.variant.payloadBytes);
}
