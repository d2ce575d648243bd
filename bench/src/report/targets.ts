import type { SystemName } from '../lib/protocol.js';
import { fmt } from '../lib/log.js';
import { idleRoundRatios } from '../scenarios/node.js';
import type { RpcServer } from '../scenarios/rpc.js';
import { abuseTargetLines } from './abuse.js';
import { clientTargetLines } from './clientCost.js';
import { liveTargetLines } from './live.js';
import { tracingTargetLines } from './tracing.js';
import type { SuiteResults } from './results.js';

export interface TargetLine {
  readonly label: string;
  /** The ratios, as printed (for example `0.81x @100, 0.93x @1,000`). */
  readonly value: string;
  readonly target: string;
  /** null when there was nothing to compare. */
  readonly met: boolean | null;
  readonly note?: string;
}

const ratio = (value: number) => `${fmt(value)}x`;

function fanoutCost(results: SuiteResults, system: SystemName, subscribers: number, mode: 'max' | 'fixed'): number {
  const row = results.fanout.find((r) => r.system === system && r.subscribers === subscribers && r.mode === mode);
  return row ? row.measurement.cpuUsPerEvent.value : Number.NaN;
}

/** The median of the per-window p99s at the fixed rate (one window disturbed by other work does not decide it). */
function fanoutP99(results: SuiteResults, system: SystemName, subscribers: number): number {
  const row = results.fanout.find((r) => r.system === system && r.subscribers === subscribers && r.mode === 'fixed');
  return row ? row.measurement.windowP99.value : Number.NaN;
}

/** Herald over raw ws in the paired rounds at `subscribers`, when that scenario ran. */
function pairedRatio(results: SuiteResults, subscribers: number, which: 'cpu' | 'p99'): number | undefined {
  return results.paired.find((row) => row.subscribers === subscribers)?.herald[which].value;
}

/** Paired ratios per count, as `1.02x (0.95–1.10) @100, …`. */
function pairedNote(results: SuiteResults, label: string, pick: (row: SuiteResults['paired'][number]) => { value: number; min: number; max: number }): string | undefined {
  if (results.paired.length === 0) return undefined;
  const parts = results.paired.map((row) => {
    const m = pick(row);
    return `${ratio(m.value)} (${fmt(m.min)}–${fmt(m.max)}) @${row.subscribers.toLocaleString('en-US')}`;
  });
  return `${label}: ${parts.join(', ')}`;
}

const pairedLabel = (results: SuiteResults) =>
  results.paired.length > 0 ? `, median of ${results.paired[0]!.rounds} paired rounds` : '';

/** Herald against one baseline at every subscriber count: met only if every count meets it. */
function perCount(
  results: SuiteResults,
  label: string,
  target: string,
  value: (subscribers: number) => number,
  ok: (ratio: number) => boolean,
  extraNote?: string,
): TargetLine {
  const counts = [...new Set([...results.fanout, ...results.paired, ...results.instructions.fanout].map((row) => row.subscribers))].sort((a, b) => a - b);
  const ratios = counts.map((count) => ({ count, value: value(count) })).filter((entry) => Number.isFinite(entry.value));
  if (ratios.length === 0) return { label, value: 'n/a', target, met: null };
  const missed = ratios.filter((entry) => !ok(entry.value));
  const note = joinNotes(
    missed.length > 0 && missed.length < ratios.length ? `missed at ${missed.map((entry) => entry.count.toLocaleString('en-US')).join(', ')}` : undefined,
    extraNote,
  );
  return {
    label,
    value: ratios.map((entry) => `${ratio(entry.value)} @${entry.count.toLocaleString('en-US')}`).join(', '),
    target,
    met: missed.length === 0,
    ...(note ? { note } : {}),
  };
}

function rpcRow(results: SuiteResults, server: RpcServer, client: string, connections: number, depth: number) {
  return results.rpc.find((r) => r.server === server && r.client === client && r.connections === connections && r.depth === depth);
}

function rpcRate(results: SuiteResults, server: RpcServer, client: string, connections: number, depth: number): number {
  return rpcRow(results, server, client, connections, depth)?.measurement.rate.value ?? Number.NaN;
}

/** Herald's server CPU per call against stock's: steadier than call rates on a busy machine. */
function rpcCostNote(results: SuiteResults, heraldClient: string, stockClient: string, connections: number, depth: number): string | undefined {
  const herald = rpcRow(results, 'herald', heraldClient, connections, depth)?.measurement.cpuUsPerEvent.value;
  const stock = rpcRow(results, 'trpc', stockClient, connections, depth)?.measurement.cpuUsPerEvent.value;
  if (herald === undefined || stock === undefined) return undefined;
  return `server CPU per call: Herald ${fmt(herald)} µs vs stock ${fmt(stock)} µs, ${ratio(herald / stock)}`;
}

/** Client CPU per call, @herald/client against another system's own client. */
function rpcClientCostNote(results: SuiteResults, server: RpcServer, client: string, connections: number, depth: number): string | undefined {
  const herald = rpcRow(results, 'herald', 'herald-client', connections, depth)?.measurement.loadgenCpuUsPerEvent;
  const other = rpcRow(results, server, client, connections, depth)?.measurement.loadgenCpuUsPerEvent;
  if (herald === undefined || other === undefined) return undefined;
  return `client CPU per call: @herald/client ${fmt(herald)} µs vs ${client} ${fmt(other)} µs, ${ratio(herald / other)}`;
}

/** The minimal client against raw `ws` answering the same call: no server speaking JSON over `ws` can do much better. */
function rpcCeilingNote(results: SuiteResults): string | undefined {
  const raw = rpcRate(results, 'raw-ws-string', 'trpc-wire', 100, 1);
  const stock = rpcRate(results, 'trpc', 'trpc-wire', 100, 1);
  if (!Number.isFinite(raw) || !Number.isFinite(stock)) return undefined;
  return `the raw ws ceiling here is ${Math.round(raw).toLocaleString('en-US')} calls/s, ${ratio(raw / stock)} stock tRPC`;
}

/** Server instructions per call under callgrind, Herald against stock tRPC (section 7). */
function rpcInstructionNote(results: SuiteResults): string | undefined {
  const of = (system: SystemName) => results.instructions.rpc.find((row) => row.system === system)?.instructionsPerCall;
  const herald = of('herald');
  const stock = of('trpc');
  if (herald === undefined || stock === undefined) return undefined;
  return `server instructions per call (callgrind): Herald ${Math.round(herald).toLocaleString('en-US')} vs stock ${Math.round(stock).toLocaleString('en-US')}, ${ratio(herald / stock)}`;
}

const joinNotes = (...notes: (string | undefined)[]) => notes.filter(Boolean).join('; ') || undefined;

function single(label: string, value: number, target: string, ok: (ratio: number) => boolean, note?: string): TargetLine {
  if (!Number.isFinite(value)) return { label, value: 'n/a', target, met: null };
  return { label, value: ratio(value), target, met: ok(value), ...(note ? { note } : {}) };
}

/**
 * Idle heartbeats: Herald's idle CPU at its default heartbeats against bare
 * `ws` pinging at Herald's rate with `ws.ping()`, the median of the rounds'
 * ratios; met at or under it, or at or under 1% of a core per 10,000
 * connections, whichever is higher.
 */
function idleHeartbeatLine(results: SuiteResults): TargetLine {
  const label = "idle server CPU per 10k connections, default heartbeats, vs bare ws pinging at Herald's rate with ws.ping()";
  const target = '≤ 1.0x, or ≤ 1% of a core per 10k';
  const herald = results.node.find((row) => row.system === 'herald');
  const bare = results.node.find((row) => row.system === 'raw-ws-ping');
  const ratios = herald && bare ? idleRoundRatios(herald, bare) : null;
  if (!herald || !bare || !ratios) return { label, value: 'n/a', target, met: null };
  const floor = results.node.find((row) => row.system === 'raw-ws-string');
  return {
    label,
    value: ratio(ratios.value),
    target,
    met: ratios.value <= 1 || herald.idle.cpuPercentPer10k <= 1,
    note: joinNotes(
      `median of ${ratios.rounds} round${ratios.rounds === 1 ? '' : 's'}${ratios.rounds > 1 ? ` (${fmt(ratios.min)}–${fmt(ratios.max)})` : ''}`,
      `Herald ${fmt(herald.idle.cpuPercentPer10k)}% vs ${fmt(bare.idle.cpuPercentPer10k)}% of a core per 10k`,
      floor ? `bare ws without heartbeats ${fmt(floor.idle.cpuPercentPer10k)}%` : undefined,
    ),
  };
}

/** Herald's ratios against each baseline, one line per target. */
export function targetLines(results: SuiteResults): TargetLine[] {
  const heraldCost = (count: number) => fanoutCost(results, 'herald', count, 'max');
  const lines: TargetLine[] = [
    perCount(results, 'fan-out server CPU/delivery (max rate) vs raw ws.send(string)', '≤ 1.0x', (n) => heraldCost(n) / fanoutCost(results, 'raw-ws-string', n, 'max'), (r) => r <= 1.0),
    perCount(results, 'fan-out server CPU/delivery (max rate) vs stock tRPC', '≤ 0.2x', (n) => heraldCost(n) / fanoutCost(results, 'trpc', n, 'max'), (r) => r <= 0.2),
    perCount(results, 'fan-out server CPU/delivery (max rate) vs Socket.IO', '< 1.0x', (n) => heraldCost(n) / fanoutCost(results, 'socketio', n, 'max'), (r) => r < 1.0),
    perCount(
      results,
      `fan-out server CPU/delivery (fixed ${results.config.fanout.fixedDeliveriesPerSec.toLocaleString('en-US')}/s, one message per tick) vs raw ws.send(string)${pairedLabel(results)}`,
      '≤ 1.0x',
      (n) => pairedRatio(results, n, 'cpu') ?? fanoutCost(results, 'herald', n, 'fixed') / fanoutCost(results, 'raw-ws-string', n, 'fixed'),
      (r) => r <= 1.0,
      joinNotes(
        pairedNote(results, "Herald vs raw ws on tRPC's wire", (row) => row.heraldOverProtocol.cpu),
        pairedNote(results, "tRPC's wire vs raw ws, both on raw ws", (row) => row.protocol.cpu),
        pairedNote(results, 'control, raw ws vs raw ws', (row) => row.control.cpu),
      ),
    ),
    perCount(
      results,
      `p99 latency (median of windows) at fixed ${results.config.fanout.fixedDeliveriesPerSec.toLocaleString('en-US')} deliveries/s vs raw ws.send(string)${pairedLabel(results)}`,
      '≤ 1.2x',
      (n) => pairedRatio(results, n, 'p99') ?? fanoutP99(results, 'herald', n) / fanoutP99(results, 'raw-ws-string', n),
      (r) => r <= 1.2,
      pairedNote(results, 'control, raw ws vs raw ws', (row) => row.control.p99),
    ),
  ];

  const instructions = (n: number, system: SystemName) =>
    results.instructions.fanout.find((row) => row.system === system && row.subscribers === n)?.instructionsPerDelivery ?? Number.NaN;
  lines.push(
    perCount(
      results,
      'fan-out user-space instructions/delivery (callgrind, one message per tick) vs raw ws.send(string)',
      '≤ 1.0x',
      (n) => instructions(n, 'herald') / instructions(n, 'raw-ws-string'),
      (r) => r <= 1.0,
    ),
  );

  lines.push(idleHeartbeatLine(results));

  const herald = results.memory.find((row) => row.system === 'herald');
  const raw = results.memory.find((row) => row.system === 'raw-ws-string');
  lines.push(
    single(
      `memory per connection, one live subscription (RSS) vs raw ws idle, ${(herald?.connections ?? 0).toLocaleString('en-US')} connections`,
      herald && raw ? herald.subscribed.rssPerConnection / raw.idle.rssPerConnection : Number.NaN,
      '≤ 2x',
      (r) => r <= 2,
      herald && raw ? `heap+external: ${ratio(herald.subscribed.heapPerConnection / raw.idle.heapPerConnection)}` : undefined,
    ),
  );

  lines.push(
    single(
      'RPC round trips/s at 100 connections vs stock tRPC (same minimal wire client)',
      rpcRate(results, 'herald', 'trpc-wire', 100, 1) / rpcRate(results, 'trpc', 'trpc-wire', 100, 1),
      '≥ 2.5x',
      (r) => r >= 2.5,
      joinNotes(rpcCostNote(results, 'trpc-wire', 'trpc-wire', 100, 1), rpcInstructionNote(results), rpcCeilingNote(results)),
    ),
    single(
      "RPC round trips/s at 100 connections vs Socket.IO's emit with ack (each with its minimal wire client)",
      rpcRate(results, 'herald', 'trpc-wire', 100, 1) / rpcRate(results, 'socketio', 'socketio-wire', 100, 1),
      '≥ 1.0x',
      (r) => r >= 1,
    ),
    single(
      "RPC server CPU per call at 100 connections vs Socket.IO's emit with ack (minimal wire clients)",
      (rpcRow(results, 'herald', 'trpc-wire', 100, 1)?.measurement.cpuUsPerEvent.value ?? Number.NaN) /
        (rpcRow(results, 'socketio', 'socketio-wire', 100, 1)?.measurement.cpuUsPerEvent.value ?? Number.NaN),
      '≤ 1.0x',
      (r) => r <= 1,
    ),
    single(
      'RPC round trips/s at 100 connections vs stock tRPC (each with its own client)',
      rpcRate(results, 'herald', 'herald-client', 100, 1) / rpcRate(results, 'trpc', 'trpc-client', 100, 1),
      '≥ 2x',
      (r) => r >= 2,
      joinNotes(rpcCostNote(results, 'herald-client', 'trpc-client', 100, 1), rpcClientCostNote(results, 'trpc', 'trpc-client', 100, 1)),
    ),
    single(
      'RPC round trips/s at 100 connections vs Socket.IO (each with its own client)',
      rpcRate(results, 'herald', 'herald-client', 100, 1) / rpcRate(results, 'socketio', 'socketio-client', 100, 1),
      '≥ 1.0x',
      (r) => r >= 1,
      rpcClientCostNote(results, 'socketio', 'socketio-client', 100, 1),
    ),
    single(
      'RPC round trips/s on 1 connection (100 in flight), @herald/client vs stock client',
      rpcRate(results, 'herald', 'herald-client', 1, 100) / rpcRate(results, 'trpc', 'trpc-client', 1, 100),
      '≥ 8x',
      (r) => r >= 8,
    ),
    single(
      'RPC round trips/s on 1 connection (1 in flight), @herald/client vs stock client',
      rpcRate(results, 'herald', 'herald-client', 1, 1) / rpcRate(results, 'trpc', 'trpc-client', 1, 1),
      '≥ 8x',
      (r) => r >= 8,
    ),
  );
  lines.push(...clientTargetLines(results));
  lines.push(...abuseTargetLines(results));
  lines.push(...liveTargetLines(results));
  lines.push(...tracingTargetLines(results));
  return lines;
}

export function formatTargetLine(line: TargetLine): string {
  const verdict = line.met === null ? 'NOT MEASURED' : line.met ? 'met' : 'MISSED';
  return `${line.label}: ${line.value} (target ${line.target}): ${verdict}${line.note ? ` (${line.note})` : ''}`;
}
