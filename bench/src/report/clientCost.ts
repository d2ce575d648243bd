import { fmt } from '../lib/log.js';
import { median } from '../lib/stats.js';
import type { RpcKind } from '../lib/protocol.js';
import type { Measurement } from '../scenarios/measure.js';
import type { ReceiveRow } from '../scenarios/receive.js';
import type { EchoRow, RpcServer } from '../scenarios/rpc.js';
import { SYSTEM_LABELS } from '../servers/index.js';
import type { SuiteResults } from './results.js';
import type { TargetLine } from './targets.js';

const CLIENT_LABELS: Record<RpcKind, string> = {
  'herald-client': '@herald/client',
  'trpc-client': 'stock client (wsLink)',
  'trpc-wire': 'minimal wire client',
  'socketio-client': 'socket.io-client',
  'socketio-wire': 'minimal Socket.IO client',
};

type Figure = (measurement: Measurement) => number;
const rate: Figure = (m) => m.rate.value;
const clientCpu: Figure = (m) => m.loadgenCpuUsPerEvent;
const serverCpu: Figure = (m) => m.cpuUsPerEvent.value;

function rowOf(rows: readonly EchoRow[], server: RpcServer, client: RpcKind, connections: number): EchoRow | undefined {
  return rows.find((row) => row.server === server && row.client === client && row.connections === connections && row.depth === 1);
}

/**
 * A ratio of two rows' figures taken round by round (each round measures
 * both rows back to back), and the median over the rounds with its range.
 */
function pairedRatio(rows: readonly EchoRow[], a: [RpcServer, RpcKind], b: [RpcServer, RpcKind], connections: number, figure: Figure) {
  const x = rowOf(rows, a[0], a[1], connections);
  const y = rowOf(rows, b[0], b[1], connections);
  if (!x || !y) return null;
  const ratios = x.rounds.map((m, i) => (y.rounds[i] ? figure(m) / figure(y.rounds[i]) : Number.NaN)).filter(Number.isFinite);
  if (ratios.length === 0) return null;
  return { value: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), rounds: ratios.length };
}

const HERALD: [RpcServer, RpcKind] = ['herald', 'herald-client'];
const SOCKETIO: [RpcServer, RpcKind] = ['socketio', 'socketio-client'];
const STOCK: [RpcServer, RpcKind] = ['trpc', 'trpc-client'];

function line(
  rows: readonly EchoRow[],
  label: string,
  other: [RpcServer, RpcKind],
  connections: number,
  figure: Figure,
  target: string,
  ok: (ratio: number) => boolean,
): TargetLine {
  const result = pairedRatio(rows, HERALD, other, connections, figure);
  if (!result) return { label, value: 'n/a', target, met: null };
  return {
    label,
    value: `${fmt(result.value)}x`,
    target,
    met: ok(result.value),
    note: `median of ${result.rounds} rounds, each ratio within one round: ${fmt(result.min)}–${fmt(result.max)}`,
  };
}

/** A figure's ratio, Herald's client over socket.io-client, taken round by round at one subscriber count; the median and range. */
function receiveRatio(rows: readonly ReceiveRow[], subscribers: number) {
  const herald = rows.find((row) => row.client === 'herald-client' && row.subscribers === subscribers);
  const socketio = rows.find((row) => row.client === 'socketio' && row.subscribers === subscribers);
  if (!herald || !socketio) return null;
  const ratios = herald.rounds.map((m, i) => (socketio.rounds[i] ? clientCpu(m) / clientCpu(socketio.rounds[i]) : Number.NaN)).filter(Number.isFinite);
  return ratios.length === 0 ? null : { value: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), rounds: ratios.length };
}

/** The client-side target lines (issue 30): calls against socket.io-client and the stock tRPC client, and channel messages received against socket.io-client. */
export function clientTargetLines(results: SuiteResults): TargetLine[] {
  const rows = results.rpcEcho ?? [];
  const receive = results.receive ?? [];
  const counts = results.config.receive?.subscribers ?? [];
  const receiveRatios = counts.map((count) => ({ count, ratio: receiveRatio(receive, count) }));
  const measured = receiveRatios.every((entry) => entry.ratio !== null) && receiveRatios.length > 0;
  return [
    line(rows, 'RPC echo calls/s at 100 connections (1 in flight each), @herald/client vs socket.io-client', SOCKETIO, 100, rate, '≥ 1.0x', (r) => r >= 1),
    line(rows, 'RPC echo client CPU per call at 100 connections, @herald/client vs socket.io-client', SOCKETIO, 100, clientCpu, '≤ 1.0x', (r) => r <= 1),
    line(rows, 'RPC echo calls/s on 1 connection (1 in flight), @herald/client vs stock client', STOCK, 1, rate, '≥ 8x', (r) => r >= 8),
    {
      label: 'client CPU per channel message received (fixed rate), @herald/client vs socket.io-client',
      value: measured ? receiveRatios.map(({ count, ratio }) => `${fmt(ratio!.value)}x @${count.toLocaleString('en-US')}`).join(', ') : 'n/a',
      target: '≤ 1.0x',
      met: measured ? receiveRatios.every(({ ratio }) => ratio!.value <= 1) : null,
      ...(measured
        ? { note: `median of ${receiveRatios[0]!.ratio!.rounds} rounds; within a round: ${receiveRatios.map(({ count, ratio }) => `${fmt(ratio!.min)}–${fmt(ratio!.max)} @${count.toLocaleString('en-US')}`).join(', ')}` }
        : {}),
    },
  ];
}

/** Section 1b: the receiving side's table (medians over the rounds). */
export function receiveSection(results: SuiteResults): string[] {
  const rows = results.receive ?? [];
  if (rows.length === 0) return [];
  const rounds = results.config.receive.rounds;
  return [
    '### Receiving: client CPU per channel message',
    '',
    `Herald's \`@herald/client\` (a channel subscription through \`client.trpc\`) and \`socket.io-client\` (joined to the room), each from its own server, ` +
      `both sets of subscribers held by one load generator; each server publishes the fan-out's fixed ${results.config.fanout.fixedDeliveriesPerSec.toLocaleString('en-US')} deliveries/s ` +
      `(one message per tick) while the other idles, in ${rounds} round${rounds === 1 ? '' : 's'}, alternating. Client CPU per delivery is the load generator's CPU over the deliveries; medians over the rounds.`,
    '',
    '| client | subscribers | deliveries/s | client CPU µs/delivery | p50 / p99 ms |',
    '|---|---|---|---|---|',
    ...rows.map((row) => {
      const mid = row.rounds[Math.floor(row.rounds.length / 2)]!;
      return (
        `| ${row.client === 'herald-client' ? '@herald/client' : 'socket.io-client'} | ${row.subscribers.toLocaleString('en-US')} | ` +
        `${Math.round(median(row.rounds.map(rate))).toLocaleString('en-US')} | ${med(row, clientCpu)} | ${fmt(mid.latency.p50, 2)} / ${fmt(mid.latency.p99, 2)} |`
      );
    }),
    '',
  ];
}

const med = (row: { readonly rounds: readonly Measurement[] }, figure: Figure, digits = 2) => fmt(median(row.rounds.map(figure)), digits);

/** Section 3b: the echo's table (medians over the rounds). */
export function echoSection(results: SuiteResults): string[] {
  const rows = results.rpcEcho ?? [];
  if (rows.length === 0) return [];
  const rounds = results.config.rpcEcho.rounds;
  const out = ['### Calls that carry data: an echo', ''];
  out.push(
    'The echo of a 62-byte object `{ id, user, text, tags, ok }` in closed loops, one call in flight per connection. Herald and stock tRPC ' +
      'validate it with the same zod schema and return it (superjson on both sides); Socket.IO acknowledges the emit with its argument; ' +
      'bare `ws` (`raw ws: send(string)`) parses the minimal client’s call and answers with its input. Each system with its own client, ' +
      `and Herald also with the minimal wire client (the server's share). Every row measured in ${rounds} round${rounds === 1 ? '' : 's'} ` +
      '(all rows once per round, back to back); the figures are medians over the rounds, and the target lines take each ratio within a round. ' +
      "Client CPU per call is the load generator's CPU (`process.cpuUsage()` in its own process) over the calls it completed.",
    '',
  );
  out.push(
    '| server | client | connections × in flight | calls/s | server CPU µs/call | client CPU µs/call |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (row) =>
        `| ${SYSTEM_LABELS[row.server]} | ${CLIENT_LABELS[row.client]} | ${row.connections} × ${row.depth} | ` +
        `${Math.round(median(row.rounds.map(rate))).toLocaleString('en-US')} | ${med(row, serverCpu)} | ${med(row, clientCpu)} |`,
    ),
    '',
  );
  return out;
}
