import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import type { RpcCall, RpcKind, SystemName } from '../lib/protocol.js';
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

/** What one pass over the servers measures: which clients call each server, in which layouts, with which call. */
interface RpcPass {
  readonly servers: readonly RpcServer[];
  readonly clientsOf: (server: RpcServer) => readonly RpcKind[];
  readonly layouts: readonly { readonly connections: number; readonly depth: number }[];
  readonly call: RpcCall;
  /** Passes over every row, one after another: each row is measured this many times. */
  readonly rounds: number;
  readonly timing: { readonly warmupMs: number; readonly windowMs: number; readonly windows: number };
}

/**
 * Every server up at once (the ones not measured sit idle), and the rows of
 * one layout measured one after another across systems: on a machine with
 * other work, a change in its load falls on neighbouring rows of different
 * systems rather than on one system's rows. Each round repeats the whole pass.
 */
async function measurePass(pass: RpcPass): Promise<(RpcRow & { readonly round: number })[]> {
  const rows: (RpcRow & { readonly round: number })[] = [];
  await withProcesses(async (track) => {
    const started: { system: RpcServer; server: ServerProcess }[] = [];
    for (const system of pass.servers) started.push({ system, server: track(await ServerProcess.start({ system, port: 0 })) });
    const loadgen = track(await LoadgenProcess.start());
    for (let round = 0; round < pass.rounds; round++) {
      for (const layout of pass.layouts) {
        for (const { system, server } of started) {
          for (const client of pass.clientsOf(system)) {
            await loadgen.ipc.request('reset', { creditStep: 0 });
            await loadgen.ipc.request('rpcStart', { kind: client, url: server.url, call: pass.call, ...layout }, 60_000);
            let measurement: Measurement;
            try {
              measurement = await measureWindows({ servers: [server], loadgen, ...pass.timing });
            } finally {
              await loadgen.ipc.request('rpcStop', null);
            }
            rows.push({ server: system, client, ...layout, measurement, round });
            log(
              `rpc ${pass.call} ${system} ← ${client} ${layout.connections} conn × ${layout.depth}: ${fmt(measurement.rate.value)} calls/s, ` +
                `${fmt(measurement.cpuUsPerEvent.value)} µs server CPU/call, ${fmt(measurement.loadgenCpuUsPerEvent)} µs client CPU/call ` +
                `(server ${fmt(measurement.serverCpuPct, 0)}%, loadgen ${fmt(measurement.loadgenCpuPct, 0)}%), ` +
                `p50 ${fmt(measurement.latency.p50)} ms p99 ${fmt(measurement.latency.p99)} ms${measurement.errors ? ` [${measurement.errors} errors]` : ''}`,
            );
          }
        }
      }
    }
  });
  // Reported by server, then client, then layout.
  const layoutOf = (row: RpcRow) => pass.layouts.findIndex((layout) => layout.connections === row.connections && layout.depth === row.depth);
  const order = (row: RpcRow) => [pass.servers.indexOf(row.server), pass.clientsOf(row.server).indexOf(row.client), layoutOf(row)];
  return rows.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]! || a.round - b.round;
  });
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
  return measurePass({ servers, clientsOf, layouts: RPC_LAYOUTS, call: 'ping', rounds: 1, timing: config.rpc });
}

/** The echo scenario's layouts: 100 connections with one call in flight each, and one connection with one. */
export const ECHO_LAYOUTS = [
  { connections: 100, depth: 1 },
  { connections: 1, depth: 1 },
] as const;

/** Each server with its own client (Herald also with the minimal wire client, which isolates the server's share); bare `ws` with the minimal one. */
function echoClientsOf(server: RpcServer): readonly RpcKind[] {
  if (server === 'herald') return ['herald-client', 'trpc-wire'];
  if (server === 'trpc') return ['trpc-client'];
  if (server === 'socketio') return ['socketio-client'];
  return ['trpc-wire'];
}

/** One row of the echo scenario: every round's measurement of it. */
export interface EchoRow {
  readonly server: RpcServer;
  readonly client: RpcKind;
  readonly connections: number;
  readonly depth: number;
  readonly rounds: readonly Measurement[];
}

/**
 * Scenario 3b: calls that carry data. An echo of a 62-byte object
 * (`ECHO_INPUT`, superjson on both sides for the tRPC clients, validated by
 * the same zod schema on both tRPC servers; Socket.IO acknowledges with its
 * argument; bare `ws` returns the input it parsed), each server with its own
 * client, in `config.rpcEcho.rounds` rounds so that medians can be taken.
 */
export async function runRpcEcho(config: SuiteConfig): Promise<EchoRow[]> {
  const { rounds, ...timing } = config.rpcEcho;
  const measuredRows = await measurePass({ servers: RPC_SERVERS, clientsOf: echoClientsOf, layouts: ECHO_LAYOUTS, call: 'echo', rounds, timing });
  const rows: EchoRow[] = [];
  for (const row of measuredRows) {
    const same = rows.find((r) => r.server === row.server && r.client === row.client && r.connections === row.connections && r.depth === row.depth);
    if (same) (same.rounds as Measurement[]).push(row.measurement);
    else rows.push({ server: row.server, client: row.client, connections: row.connections, depth: row.depth, rounds: [row.measurement] });
  }
  return rows;
}
