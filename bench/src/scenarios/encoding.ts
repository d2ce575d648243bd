import { creditWindow, type SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { PAYLOAD_BYTES } from '../lib/payload.js';
import type { SubscriberKind, WireEncoding } from '../lib/protocol.js';
import { measurePublishing, measureWindows, type Measurement } from './measure.js';

/** The two encodings, measured one right after the other in every condition. */
export const ENCODINGS: readonly WireEncoding[] = ['json', 'msgpack'];

/** What a row measured. */
export type EncodingCase =
  /** trpc-wire subscribers, the chat-sized message: server CPU and wire bytes per delivery. */
  | { readonly kind: 'fanout'; readonly subscribers: number; readonly mode: 'fixed' | 'max' }
  /** trpc-wire subscribers, each message carrying `binaryBytes` of bytes: wire bytes per delivery. */
  | { readonly kind: 'binary'; readonly subscribers: number; readonly binaryBytes: number }
  /** `@herald/client` subscribers: the client's CPU per received message (load generator CPU per delivery). */
  | { readonly kind: 'client'; readonly subscribers: number; readonly binaryBytes: number }
  /** `@herald/client` calling the trivial query in closed loops, one call in flight per connection. */
  | { readonly kind: 'rpc'; readonly connections: number };

export interface EncodingRow {
  readonly case: EncodingCase;
  readonly encoding: WireEncoding;
  readonly measurement: Measurement;
}

/**
 * JSON text frames against MessagePack binary frames on Herald's WebSocket
 * door, in one run, each condition measured for both encodings back to back
 * (so a change in the machine's load falls on both): the fan-out of the
 * chat-sized message at each subscriber count (fixed rate, then max rate),
 * a message carrying a binary payload (its bytes on the wire against the
 * payload), `@herald/client` receiving (its CPU per message), and RPC calls/s.
 */
export async function runEncoding(config: SuiteConfig): Promise<EncodingRow[]> {
  const settings = config.encoding;
  const windows = { warmupMs: settings.warmupMs, windowMs: settings.windowMs, windows: settings.windows };
  const rows: EncodingRow[] = [];
  const add = (row: EncodingRow) => {
    rows.push(row);
    report(row);
  };

  for (const subscribers of settings.subscribers) {
    for (const encoding of ENCODINGS) {
      await publishing({ subscribers, encoding, kind: 'trpc-wire', binaryBytes: 0 }, async (base, count) => {
        const fixed = await measurePublishing({ ...base, ...windows, plan: { mode: 'fixed', messagesPerSec: settings.fixedDeliveriesPerSec / count } });
        add({ case: { kind: 'fanout', subscribers, mode: 'fixed' }, encoding, measurement: fixed });
        const max = await measurePublishing({ ...base, ...windows, plan: { mode: 'credit', subscribers: count, windowMessages: creditWindow(count) } });
        add({ case: { kind: 'fanout', subscribers, mode: 'max' }, encoding, measurement: max });
      });
    }
  }

  const { binaryBytes, binarySubscribers, binaryDeliveriesPerSec } = settings;
  for (const encoding of ENCODINGS) {
    await publishing({ subscribers: binarySubscribers, encoding, kind: 'trpc-wire', binaryBytes }, async (base, count) => {
      const measurement = await measurePublishing({ ...base, ...windows, plan: { mode: 'fixed', messagesPerSec: binaryDeliveriesPerSec / count } });
      add({ case: { kind: 'binary', subscribers: count, binaryBytes }, encoding, measurement });
    });
  }

  for (const [bytes, subscribers, deliveriesPerSec] of [
    [0, settings.clientSubscribers, settings.clientDeliveriesPerSec],
    [binaryBytes, binarySubscribers, binaryDeliveriesPerSec],
  ] as const) {
    for (const encoding of ENCODINGS) {
      await publishing({ subscribers, encoding, kind: 'herald-client', binaryBytes: bytes }, async (base, count) => {
        const measurement = await measurePublishing({ ...base, ...windows, plan: { mode: 'fixed', messagesPerSec: deliveriesPerSec / count } });
        add({ case: { kind: 'client', subscribers: count, binaryBytes: bytes }, encoding, measurement });
      });
    }
  }

  await withProcesses(async (track) => {
    const server = track(await ServerProcess.start({ system: 'herald', port: 0 }));
    const loadgen = track(await LoadgenProcess.start());
    for (const encoding of ENCODINGS) {
      await loadgen.ipc.request('reset', { creditStep: 0 });
      const plan = { kind: 'herald-client', url: server.url, connections: settings.rpcConnections, depth: 1, encoding } as const;
      await loadgen.ipc.request('rpcStart', plan, 60_000);
      try {
        add({ case: { kind: 'rpc', connections: settings.rpcConnections }, encoding, measurement: await measureWindows({ servers: [server], loadgen, ...windows }) });
      } finally {
        await loadgen.ipc.request('rpcStop', null);
      }
    }
  });
  return rows;
}

type PublishingBase = Omit<Parameters<typeof measurePublishing>[0], 'plan' | 'warmupMs' | 'windowMs' | 'windows'>;

/** A Herald server and `subscribers` clients of `kind` speaking `encoding`, for `measure`; both processes end with it. */
async function publishing(
  setup: { subscribers: number; encoding: WireEncoding; kind: SubscriberKind; binaryBytes: number },
  measure: (base: PublishingBase, connected: number) => Promise<void>,
): Promise<void> {
  await withProcesses(async (track) => {
    const server = track(
      await ServerProcess.start({ system: 'herald', port: 0, ...(setup.binaryBytes > 0 ? { binaryBytes: setup.binaryBytes } : {}) }),
    );
    const loadgen = track(await LoadgenProcess.start());
    const connected = await loadgen.ipc.request(
      'connect',
      { kind: setup.kind, urls: [server.url], count: setup.subscribers, subscribe: true, concurrency: 100, reconnect: null, encoding: setup.encoding },
      180_000,
    );
    if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${setup.subscribers} ${setup.encoding} subscribers failed to connect`);
    await measure({ servers: [server], publisher: server, loadgen }, connected.connected);
  });
}

/** One line per row as it is measured. */
function report({ case: measured, encoding, measurement: m }: EncodingRow): void {
  const errors = m.errors > 0 ? ` [${m.errors} errors]` : '';
  switch (measured.kind) {
    case 'fanout':
      log(
        `encoding ${encoding} fanout N=${measured.subscribers} ${measured.mode}: ${fmt(m.rate.value)} deliveries/s, ` +
          `${fmt(m.cpuUsPerEvent.value)} µs server CPU/delivery, ${fmt(m.wireBytesPerEvent, 0)} wire bytes/delivery ` +
          `(${PAYLOAD_BYTES} B message), p50 ${fmt(m.latency.p50)} ms p99 ${fmt(m.latency.p99)} ms${errors}`,
      );
      return;
    case 'binary':
      log(
        `encoding ${encoding} ${measured.binaryBytes} B binary payload N=${measured.subscribers}: ${fmt(m.wireBytesPerEvent, 0)} wire bytes/delivery ` +
          `(${fmt(m.wireBytesPerEvent / measured.binaryBytes, 3)}x the payload), ${fmt(m.cpuUsPerEvent.value)} µs server CPU/delivery${errors}`,
      );
      return;
    case 'client':
      log(
        `encoding ${encoding} @herald/client N=${measured.subscribers}${measured.binaryBytes ? ` ${measured.binaryBytes} B binary payload` : ''}: ` +
          `${fmt(m.loadgenCpuUsPerEvent)} µs client CPU/message, ${fmt(m.cpuUsPerEvent.value)} µs server CPU/delivery${errors}`,
      );
      return;
    case 'rpc':
      log(
        `encoding ${encoding} rpc @herald/client ${measured.connections} conn × 1: ${fmt(m.rate.value)} calls/s, ` +
          `${fmt(m.cpuUsPerEvent.value)} µs server CPU/call, ${fmt(m.loadgenCpuUsPerEvent)} µs client CPU/call${errors}`,
      );
  }
}
