import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, subscriberKindOf, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { sleep } from '../lib/proc.js';
import type { ServerStats, SystemName } from '../lib/protocol.js';

/** raw ws is one server whichever way it sends, so one memory run covers both. */
export const MEMORY_SYSTEMS: readonly SystemName[] = ['raw-ws-string', 'trpc', 'socketio', 'herald'];

/** Bytes per connection over the server's baseline, after full collections. */
export interface MemoryFigures {
  readonly rssPerConnection: number;
  /** V8 heap used plus external memory (Buffers). */
  readonly heapPerConnection: number;
}

export interface MemoryRow {
  readonly system: SystemName;
  readonly connections: number;
  readonly idle: MemoryFigures;
  /** With one live subscription each (raw ws: in the subscriber set; Socket.IO: joined to the room). */
  readonly subscribed: MemoryFigures;
  readonly baselineRss: number;
}

const SETTLE_MS = 1_000;

function perConnection(base: ServerStats, now: ServerStats, connections: number): MemoryFigures {
  return {
    rssPerConnection: (now.rss - base.rss) / connections,
    heapPerConnection: (now.heapUsed + now.external - (base.heapUsed + base.external)) / connections,
  };
}

/**
 * Scenario 2: the server's memory with `connections` open connections, idle
 * and then with one subscription each, as deltas over the server's own
 * baseline, each read after full collections (`--expose-gc`).
 */
export async function runMemory(config: SuiteConfig, systems: readonly SystemName[]): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  const count = config.memory.connections;
  for (const system of systems) {
    await withProcesses(async (track) => {
      const server = track(await ServerProcess.start({ system, port: 0 }));
      const loadgen = track(await LoadgenProcess.start());
      if (loadgen.nofile !== null && loadgen.nofile < count + 100) {
        log(`  WARNING: the load generator may open only ${loadgen.nofile} files; ${count} connections will fail`);
      }
      await sleep(SETTLE_MS);
      const base = await server.stats(true);
      const connected = await loadgen.ipc.request(
        'connect',
        { kind: subscriberKindOf(system), urls: [server.url], count, subscribe: false, concurrency: 200, reconnect: null },
        300_000,
      );
      if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${count} connections to ${system} failed`);
      await sleep(SETTLE_MS);
      const idle = await server.stats(true);
      const subscribed = await loadgen.ipc.request('subscribe', null, 300_000);
      await sleep(SETTLE_MS);
      const live = await server.stats(true);
      const n = connected.connected;
      const row: MemoryRow = {
        system,
        connections: n,
        idle: perConnection(base, idle, n),
        subscribed: perConnection(base, live, subscribed.subscribed),
        baselineRss: base.rss,
      };
      rows.push(row);
      log(
        `memory ${system}: ${n} connections: idle ${fmt(row.idle.rssPerConnection / 1024)} KiB RSS ` +
          `(${fmt(row.idle.heapPerConnection / 1024)} KiB heap) per connection; subscribed ${fmt(row.subscribed.rssPerConnection / 1024)} KiB RSS ` +
          `(${fmt(row.subscribed.heapPerConnection / 1024)} KiB heap)`,
      );
    });
  }
  return rows;
}
