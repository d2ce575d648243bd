import { fmt } from '../lib/log.js';
import type { LatencySummary } from '../lib/stats.js';
import type { LiveRow } from '../scenarios/live.js';
import type { SuiteResults } from './results.js';
import type { TargetLine } from './targets.js';

/** Issue 29's target: server CPU per delivered live result at most this many times a channel delivery's. */
export const LIVE_CPU_TARGET = 1.2;

const ms = (value: number) => fmt(value, value < 10 ? 2 : 1);
const latency = (summary: LatencySummary) => `${ms(summary.p50)} / ${ms(summary.p99)}`;

/** A layout's live run and its baseline, the channel at the live run's delivery rate. */
function pairOf(rows: readonly LiveRow[], inputs: number): { channel: LiveRow; live: LiveRow } | null {
  const channel = rows.find((row) => row.inputs === inputs && row.mode === 'channel-matched');
  const live = rows.find((row) => row.inputs === inputs && row.mode === 'live');
  return channel && live ? { channel, live } : null;
}

/** One target line per layout: CPU per delivered result, live query against the channel, in the same run. */
export function liveTargetLines(results: SuiteResults): TargetLine[] {
  const rows = results.live ?? [];
  const layouts = results.config.live.inputs;
  const label = `live query server CPU/delivered result (over idle) vs a channel delivery of the same payload at the same delivery rate, ${results.config.live.subscribers.toLocaleString('en-US')} subscribers, ${results.config.live.publishesPerSec} publishes/s`;
  const pairs = layouts.map((inputs) => ({ inputs, pair: pairOf(rows, inputs) }));
  if (pairs.some(({ pair }) => pair === null)) return [{ label, value: 'n/a', target: `≤ ${LIVE_CPU_TARGET}x`, met: null }];
  const ratios = pairs.map(({ inputs, pair }) => ({ inputs, value: pair!.live.cpuUsPerEventOverIdle / pair!.channel.cpuUsPerEventOverIdle, pair: pair! }));
  return [
    {
      label,
      value: ratios.map(({ inputs, value }) => `${fmt(value)}x @${inputs} input${inputs === 1 ? '' : 's'}`).join(', '),
      target: `≤ ${LIVE_CPU_TARGET}x`,
      met: ratios.every(({ value }) => value <= LIVE_CPU_TARGET),
      note: ratios
        .map(({ inputs, pair }) => `@${inputs}: ${fmt(pair.live.recomputesPerSec)} recomputes/s, p99 publish→result ${ms(pair.live.measurement.latency.p99)} ms vs channel ${ms(pair.channel.measurement.latency.p99)} ms`)
        .join('; '),
    },
  ];
}

/** Section 13: live queries against a channel (scenarios/live.ts). */
export function liveSection(results: SuiteResults): string[] {
  const out: string[] = ['## 13. Live queries against a channel', ''];
  const rows = results.live ?? [];
  if (rows.length === 0) return [...out, 'Not run in this invocation.', ''];
  const { subscribers, publishesPerSec } = results.config.live;
  out.push(
    `One Herald server, ${subscribers.toLocaleString('en-US')} minimal tRPC-wire subscribers spread evenly over the inputs (rooms), ${publishesPerSec} publishes/s ` +
      'round-robin over the rooms, each the bench\'s 219-byte message. **channel**: every subscriber takes its room\'s channel stream (one delivery per publish ' +
      'per subscriber of the room); **channel-matched**, the baseline of the ratio: the same, published at the live run\'s delivery rate (coalescing makes the live run deliver fewer results ' +
      'than the channel delivers messages, and a socket that receives more per second has more of its writes queued behind others, which are cheaper). **live**: every subscriber takes `herald.live` over its room\'s newest message: each publish makes the room\'s result stale, ' +
      'the query runs (coalesced: at most one run in flight per room, plus one after it) and the result, that same message, goes to the room\'s subscribers, ' +
      'serialized once per node. Latency is the publish time in the result to its arrival. Recomputes/s counts the query\'s runs over the whole run. ' +
      'The server\'s idle CPU (subscribers connected, nothing published, 1 s before each run) is taken out of the CPU per delivery compared (**over idle**): ' +
      'coalescing makes the live runs deliver fewer results than the channel delivers messages, and at a low delivery rate the idle share would decide the ratio.',
    '',
    '| inputs | mode | publishes/s | deliveries/s | server CPU µs/delivery | over idle | vs channel-matched (over idle) | writes/delivery | recomputes/s | server CPU (idle) | p50 / p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of rows) {
    const pair = pairOf(rows, row.inputs);
    const versus = pair && row.mode === 'live' ? `${fmt(row.cpuUsPerEventOverIdle / pair.channel.cpuUsPerEventOverIdle)}x` : '–';
    const idlePct = fmt(row.idleCpuUsPerSec / 10_000, 1);
    out.push(
      `| ${row.inputs} | ${row.mode} | ${fmt(row.publishesPerSec)} | ${fmt(row.measurement.rate.value)} | ${fmt(row.measurement.cpuUsPerEvent.value)} | ${fmt(row.cpuUsPerEventOverIdle)} | ${versus} | ${fmt(row.measurement.writeSyscallsPerEvent)} | ${row.mode === 'live' ? fmt(row.recomputesPerSec) : '–'} | ${fmt(row.measurement.serverCpuPct, 0)}% (${idlePct}%) | ${latency(row.measurement.latency)} |`,
    );
  }
  out.push('');
  return out;
}
