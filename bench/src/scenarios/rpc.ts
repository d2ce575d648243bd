import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import type { RpcKind, SystemName } from '../lib/protocol.js';
import { measureWindows, type Measurement } from './measure.js';

export type RpcServer = Extract<SystemName, 'herald' | 'trpc' | 'socketio' | 'raw-ws-string'>;

/** The servers of the RPC scenario, in the order they run. */
export const RPC_SERVERS: readonly RpcServer[] = ['herald', 'trpc', 'socketio', 'raw-ws-string'];

/** Connection layouts: total concurrency 100 either on one socket or spread over 100, and a pure round trip. */
export const RPC_LAYOUTS = [
  { connections: 1, depth: 1 },
  { connections: 1, depth: 100 },
  { connections: 100, depth: 1 },
] as const;

export const RPC_CLIENTS: readonly RpcKind[] = ['herald-client', 'trpc-client', 'trpc-wire'];

/**
 * Raw `ws` is no tRPC server: only the minimal wire client measures it (the
 * ceiling of a JSON call over `ws`). Socket.IO answers an emit with
 * acknowledgement, from `socket.io-client` and from a minimal client of its
 * protocol (the counterpart of the minimal tRPC wire client).
 */
function clientsOf(server: RpcServer): readonly RpcKind[] {
  if (server === 'raw-ws-string') return ['trpc-wire'];
  if (server === 'socketio') return ['socketio-client', 'socketio-wire'];
  return RPC_CLIENTS;
}

export interface RpcRow {
  readonly server: RpcServer;
  readonly client: RpcKind;
  readonly connections: number;
  readonly depth: number;
  readonly measurement: Measurement;
}

/**
 * Scenario 3: a trivial query in closed loops (`depth` calls in flight per
 * connection), against each server with each client: Herald's client, the
 * stock client (wsLink), and the minimal wire client; Socket.IO's emit with
 * acknowledgement from its own client and a minimal one; and raw `ws`
 * answering the minimal client, the ceiling. The load generator's CPU per
 * call is each client's cost.
 */
export async function runRpc(config: SuiteConfig, servers: readonly RpcServer[]): Promise<RpcRow[]> {
  const rows: RpcRow[] = [];
  await withProcesses(async (track) => {
    // Every server up at once (the ones not measured sit idle), and the rows of one layout measured
    // one after another across systems: on a machine with other work, a change in its load falls on
    // neighbouring rows of different systems rather than on one system's rows.
    const started: { system: RpcServer; server: ServerProcess }[] = [];
    for (const system of servers) started.push({ system, server: track(await ServerProcess.start({ system, port: 0 })) });
    const loadgen = track(await LoadgenProcess.start());
    for (const layout of RPC_LAYOUTS) {
      for (const { system, server } of started) {
        for (const client of clientsOf(system)) {
          await loadgen.ipc.request('reset', { creditStep: 0 });
          await loadgen.ipc.request('rpcStart', { kind: client, url: server.url, ...layout }, 60_000);
          let measurement: Measurement;
          try {
            measurement = await measureWindows({ servers: [server], loadgen, ...config.rpc });
          } finally {
            await loadgen.ipc.request('rpcStop', null);
          }
          rows.push({ server: system, client, ...layout, measurement });
          log(
            `rpc ${system} ← ${client} ${layout.connections} conn × ${layout.depth}: ${fmt(measurement.rate.value)} calls/s, ` +
              `${fmt(measurement.cpuUsPerEvent.value)} µs server CPU/call, ${fmt(measurement.loadgenCpuUsPerEvent)} µs client CPU/call ` +
              `(server ${fmt(measurement.serverCpuPct, 0)}%, loadgen ${fmt(measurement.loadgenCpuPct, 0)}%), ` +
              `p50 ${fmt(measurement.latency.p50)} ms p99 ${fmt(measurement.latency.p99)} ms${measurement.errors ? ` [${measurement.errors} errors]` : ''}`,
          );
        }
      }
    }
  });
  // Reported by server, then client, then layout.
  const layoutOf = (row: RpcRow) => RPC_LAYOUTS.findIndex((layout) => layout.connections === row.connections && layout.depth === row.depth);
  const order = (row: RpcRow) => [servers.indexOf(row.server), clientsOf(row.server).indexOf(row.client), layoutOf(row)];
  return rows.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
}
