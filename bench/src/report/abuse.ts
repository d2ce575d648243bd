import { fmt } from '../lib/log.js';
import { DECODE, HERALD_DEFAULTS, REFUSED, UNREAD } from '../scenarios/abuse.js';
import type { ServerMemory } from '../servers/abuseShared.js';
import type { SuiteResults } from './results.js';
import type { TargetLine } from './targets.js';

/** Megabytes as the targets say them: 10^6 bytes. */
const MB = 1_000_000;
const mb = (bytes: number) => `${fmt(bytes / MB, 0)} MB`;
/** A change in MB with its sign. */
const deltaMb = (bytes: number) => `${bytes < 0 ? '−' : '+'}${mb(Math.abs(bytes))}`;
const seconds = (ms: number) => `${fmt(ms / 1000, 1)} s`;
const count = (value: number) => value.toLocaleString('en-US');

/** Issue 26's targets for clients that do not play by the rules (scenarios/abuse.ts). */
export const ABUSE_TARGETS = { rssGrowthBytes: 150 * MB, healthMs: 1_000, decodeRatio: 3 } as const;

const LABELS = {
  rss: `unread answers: server RSS growth, ${UNREAD.clients} clients asking for ${UNREAD.batch}-call batches of ${UNREAD.messages} messages of ${count(UNREAD.chars)} characters and never reading`,
  health: `unread answers: /healthz round trip, max over the window (a probe every ${UNREAD.sampleMs} ms, ${UNREAD.healthTimeoutMs / 1000} s timeout)`,
  decode: `decode: server CPU of 1 MB frames whose input is a ${count(DECODE.digits)}-digit superjson BigInt vs plain 1 MB frames`,
  answered: 'decode: every BigInt frame answered with a BAD_REQUEST, the socket left open',
} as const;

/** The scenario's target lines: each figure against its target ("NOT MEASURED" when the scenario did not run). */
export function abuseTargetLines(results: SuiteResults): TargetLine[] {
  const abuse = results.abuse ?? null;
  const rssTarget = `≤ ${mb(ABUSE_TARGETS.rssGrowthBytes)}`;
  const healthTarget = `≤ ${count(ABUSE_TARGETS.healthMs)} ms`;
  const decodeTarget = `≤ ${ABUSE_TARGETS.decodeRatio}x`;
  const answeredTarget = 'all, open';
  if (!abuse) {
    return [
      { label: LABELS.rss, value: 'n/a', target: rssTarget, met: null },
      { label: LABELS.health, value: 'n/a', target: healthTarget, met: null },
      { label: LABELS.decode, value: 'n/a', target: decodeTarget, met: null },
      { label: LABELS.answered, value: 'n/a', target: answeredTarget, met: null },
    ];
  }
  const { unread, decode } = abuse;
  const growth = unread.peakRss - unread.baselineRss;
  const ratio = decode.bigint.cpuMs / decode.plain.cpuMs;
  return [
    {
      label: LABELS.rss,
      value: deltaMb(growth),
      target: rssTarget,
      met: Number.isFinite(growth) ? growth <= ABUSE_TARGETS.rssGrowthBytes : null,
      note: `${mb(unread.baselineRss)} before, peak ${mb(unread.peakRss)} at ${seconds(unread.peakAtMs)}, ${mb(unread.afterRss)} ${seconds(unread.afterMs)} after they went`,
    },
    {
      label: LABELS.health,
      value: `${fmt(unread.health.maxMs, 0)} ms`,
      target: healthTarget,
      met: unread.health.probes > 0 ? unread.health.timeouts === 0 && unread.health.maxMs <= ABUSE_TARGETS.healthMs : null,
      note: `${unread.health.probes} probes, ${unread.health.timeouts} timed out`,
    },
    {
      label: LABELS.decode,
      value: `${fmt(ratio)}x`,
      target: decodeTarget,
      met: Number.isFinite(ratio) ? ratio <= ABUSE_TARGETS.decodeRatio : null,
      note: `${decode.bigint.frames} frames each: ${fmt(decode.bigint.cpuMs, 0)} ms vs ${fmt(decode.plain.cpuMs, 0)} ms`,
    },
    {
      label: LABELS.answered,
      value: `${decode.bigint.badRequests} of ${decode.bigint.frames} BAD_REQUEST, socket ${decode.socketOpen ? 'open' : 'closed'}`,
      target: answeredTarget,
      met: decode.bigint.badRequests === decode.bigint.frames && decode.socketOpen,
    },
  ];
}

/** `process.memoryUsage()` figures before → then. */
function heldText(before: ServerMemory, then: ServerMemory): string {
  const pair = (key: keyof ServerMemory) => `${mb(before[key])} → ${mb(then[key])}`;
  return `${pair('rss')}; ${pair('heapUsed')}; ${pair('external')} (${pair('arrayBuffers')})`;
}

/** Section 12 of results.md: clients that do not play by the rules (scenarios/abuse.ts). */
export function abuseSection(results: SuiteResults): string[] {
  const out = ['## 12. Clients that do not play by the rules', ''];
  const abuse = results.abuse ?? null;
  if (!abuse) return [...out, 'Not run in this invocation.', ''];
  const { unread, decode } = abuse;
  const [rssLine, healthLine, decodeLine, answeredLine] = abuseTargetLines(results);
  const verdict = (line: TargetLine | undefined) => (!line || line.met === null ? 'not measured' : line.met ? 'met' : '**missed**');
  out.push(
    "Herald with its production defaults (no limit raised: that is the point), in its own process on the server core, serving a channel `room` " +
      `with history, a query \`history\` (the room's last ${UNREAD.messages} messages, as the demo's \`chat.history\`) and \`ping\`; every client is on 127.0.0.1. ` +
      `**Unread answers**: the room holds ${UNREAD.messages} messages of ${count(UNREAD.chars)} characters (one \`history\` answer is ${mb(unread.answerBytesPerCall)}); ` +
      `${unread.clients} raw TCP sockets each send \`GET /trpc/history,history,…?batch=1\` (${unread.callsPerRequest} calls) and never read (paused before they connect). ` +
      `The server's RSS (\`VmRSS\` of /proc/<pid>/status) and a \`GET /healthz\` on a fresh connection are sampled every ${UNREAD.sampleMs} ms, ` +
      `for ${seconds(results.config.abuse.baselineMs)} before (the baseline: their median) and ${seconds(unread.windowMs)} after the requests, past ` +
      `\`httpWriteTimeoutMs\` (default ${seconds(HERALD_DEFAULTS.httpWriteTimeoutMs)}), so that the server dropping them is in the window; then the sockets are closed ` +
      `and RSS read ${seconds(unread.afterMs)} later, and again after full collections in the server. Refusals are \`herald_refusals_total\` from \`/metrics\`: ` +
      `\`max_http_answer\` (\`maxHttpAnswerBytes\`, default ${count(HERALD_DEFAULTS.maxHttpAnswerBytes)} bytes in one answer: HTTP 413, the answer not built), ` +
      `\`max_http_calls_per_ip\` (\`maxHttpCallsPerIp\`, default ${HERALD_DEFAULTS.maxHttpCallsPerIp} calls in progress per address, a batch of N counting N: HTTP 429), ` +
      `\`max_http_answer_bytes_per_ip\` (\`maxHttpAnswerBytesPerIp\`, default ${count(HERALD_DEFAULTS.maxHttpAnswerBytesPerIp)} bytes of answers not yet taken per address: HTTP 429) ` +
      'and `slow_http_client` (an answer not taken within `httpWriteTimeoutMs`: the connection dropped). Each socket\'s status line is read only after the window. ' +
      `**Decode cost**: on one WebSocket, ${decode.bigint.frames} \`ping\` queries (it takes no input) whose input is \`{"json":"99…9","meta":{"values":["bigint"],"v":1}}\` ` +
      `with ${count(DECODE.digits)} digits (${count(decode.bigint.frameBytes)}-byte frames, under the default ${count(HERALD_DEFAULTS.maxPayloadBytes)}-byte \`maxPayloadBytes\`), ` +
      `against ${decode.plain.frames} frames of the same size with a plain string input; one frame at a time, each after the last one's answer, after ` +
      'a warm-up of 3 of each. Server CPU is utime + stime from /proc/<pid>/stat over each batch (10 ms ticks). MB are 10^6 bytes.',
    '',
  );
  const statuses = Object.entries(unread.statuses)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${n} × ${status}`)
    .join(', ');
  const rows: string[][] = [
    ['unread', 'server RSS before', mb(unread.baselineRss), '', ''],
    ['unread', 'peak RSS growth', `${deltaMb(unread.peakRss - unread.baselineRss)} (peak ${mb(unread.peakRss)} at ${seconds(unread.peakAtMs)})`, rssLine?.target ?? '', verdict(rssLine)],
    [
      'unread',
      `held halfway through the window (${seconds(unread.windowMs / 2)}), before → then: RSS; V8 heap used; external (of it ArrayBuffers)`,
      unread.held ? heldText(unread.heldBefore, unread.held) : 'n/a',
      '',
      '',
    ],
    ['unread', `RSS at the end of the window (${seconds(unread.windowMs)})`, mb(unread.windowEndRss), '', ''],
    ['unread', `RSS ${seconds(unread.afterMs)} after the sockets closed`, `${mb(unread.afterRss)} (${deltaMb(unread.afterRss - unread.baselineRss)})`, '', ''],
    ['unread', 'RSS after full collections', `${mb(unread.afterGcRss)} (${deltaMb(unread.afterGcRss - unread.baselineRss)})`, '', ''],
    [
      'unread',
      '/healthz round trip: max (median)',
      `${fmt(unread.health.maxMs, 0)} ms at ${seconds(unread.health.maxAtMs)} (${fmt(unread.health.p50Ms, 1)} ms), ${unread.health.timeouts} of ${unread.health.probes} timed out`,
      healthLine?.target ?? '',
      verdict(healthLine),
    ],
    [
      'unread',
      'requests refused at once (1 s after)',
      `${unread.refusedAtOnce} of ${unread.clients}; by the end: ${(Object.keys(REFUSED) as (keyof typeof REFUSED)[])
        .map((reason) => `${unread.refusedByReason[reason]} \`${reason}\` (${REFUSED[reason]})`)
        .join(', ')}`,
      '',
      '',
    ],
    [
      'unread',
      'requests dropped (`slow_http_client`)',
      `${unread.dropped}${unread.droppedAtMs === null ? '' : `, counted by ${seconds(unread.droppedAtMs)} after the requests`}`,
      '',
      '',
    ],
    ['unread', 'status line each socket read after the window', statuses, '', ''],
    ['unread', 'a `history` call after they went', unread.servedAfter === null ? 'no answer' : `HTTP ${unread.servedAfter}`, '', ''],
    ['decode', `server CPU, ${decode.plain.frames} plain frames`, `${fmt(decode.plain.cpuMs, 0)} ms`, '', ''],
    ['decode', `server CPU, ${decode.bigint.frames} BigInt frames`, `${fmt(decode.bigint.cpuMs, 0)} ms`, '', ''],
    ['decode', 'BigInt vs plain', decodeLine?.value ?? '', decodeLine?.target ?? '', verdict(decodeLine)],
    [
      'decode',
      'round trip per frame, mean / max: plain, BigInt',
      `${fmt(decode.plain.meanMs, 1)} / ${fmt(decode.plain.maxMs, 1)} ms, ${fmt(decode.bigint.meanMs, 1)} / ${fmt(decode.bigint.maxMs, 1)} ms`,
      '',
      '',
    ],
    ['decode', 'BigInt frames answered, as BAD_REQUEST; the socket', answeredLine?.value ?? '', answeredLine?.target ?? '', verdict(answeredLine)],
    ['decode', 'for reference: `BigInt()` of those digits in the orchestrator (what decoding would cost)', `${fmt(decode.decodeOneMs, 0)} ms per frame`, '', ''],
  ];
  out.push('| part | figure | value | target | verdict |', '|---|---|---|---|---|', ...rows.map((row) => `| ${row.join(' | ')} |`), '');
  // The RSS samples every 2 s (seconds after the requests: MB), so the build, the hold and the drop show.
  const timeline = unread.rssTimeline.filter(([atMs], index) => index === 0 || Math.floor(atMs / 2_000) > Math.floor(unread.rssTimeline[index - 1]![0] / 2_000));
  out.push(`Server RSS over the window, MB (seconds after the requests: MB): ${timeline.map(([atMs, rss]) => `${fmt(atMs / 1000, 1)}: ${fmt(rss / MB, 0)}`).join(', ')}.`, '');
  return out;
}
