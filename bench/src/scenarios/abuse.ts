import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocket, type RawData } from 'ws';
import type { SuiteConfig } from '../config.js';
import { waitReady } from '../lib/harness.js';
import { IpcClient } from '../lib/ipc.js';
import { fmt, log } from '../lib/log.js';
import { killProcess, processCpuMs, SERVER_CORE, sleep, spawnBenchProcess, stopProcess } from '../lib/proc.js';
import { ABUSE_ROOM, HISTORY_LIMIT, type AbuseServerCommands, type ServerMemory } from '../servers/abuseShared.js';

const SERVER_ENTRY = fileURLToPath(new URL('../servers/abuseServer.ts', import.meta.url));

/** Unread answers: the room's messages, their length, the clients that never read, the calls in each one's batch. */
export const UNREAD = { messages: HISTORY_LIMIT, chars: 2_000, clients: 10, batch: 100, sampleMs: 250, healthTimeoutMs: 3_000 } as const;
/** Decode cost: digits of the BigInt input (a frame just under the default 1 MiB `maxPayloadBytes`). */
export const DECODE = { digits: 1_000_000, frameTimeoutMs: 10_000 } as const;
/** Herald's defaults the scenario runs against (packages/server/src/options.ts), for the report. */
export const HERALD_DEFAULTS = {
  maxHttpCallsPerIp: 100,
  maxHttpAnswerBytes: 8_388_608,
  maxHttpAnswerBytesPerIp: 33_554_432,
  httpWriteTimeoutMs: 30_000,
  maxPayloadBytes: 1_048_576,
} as const;
/** The refusals of a request that the scenario counts (`herald_refusals_total{reason}`), with the HTTP status each is answered with. */
export const REFUSED = { max_http_answer: 413, max_http_calls_per_ip: 429, max_http_answer_bytes_per_ip: 429 } as const;

export interface UnreadResult {
  readonly clients: number;
  readonly callsPerRequest: number;
  /** Bytes of the JSON answer to one `history` call (so a batch's answer is about `callsPerRequest` times it). */
  readonly answerBytesPerCall: number;
  readonly windowMs: number;
  /** Server RSS (bytes): the median before the clients came, the highest sample in the window, the last sample in it. */
  readonly baselineRss: number;
  readonly peakRss: number;
  /** When the peak was sampled, ms after the requests were sent. */
  readonly peakAtMs: number;
  readonly windowEndRss: number;
  /** `afterMs` after the sockets were closed, as it is; then after full collections in the server. */
  readonly afterMs: number;
  readonly afterRss: number;
  readonly afterGcRss: number;
  /** The server's memory before the requests and halfway through the window, as `process.memoryUsage()` has it (bytes; null if it did not answer). */
  readonly heldBefore: ServerMemory;
  readonly held: ServerMemory | null;
  /** Every RSS sample of the window: ms after the requests, bytes. */
  readonly rssTimeline: readonly (readonly [atMs: number, rss: number])[];
  /** `/healthz` round trips in the window (a fresh connection each), ms; a timeout counts as its timeout. `maxAtMs`: when the slowest started, after the requests. */
  readonly health: { readonly probes: number; readonly timeouts: number; readonly maxMs: number; readonly maxAtMs: number; readonly p50Ms: number };
  /** Requests refused (every reason of `REFUSED`): 1 s after the requests, and at the end of the window; and by reason at the end. */
  readonly refusedAtOnce: number;
  readonly refused: number;
  readonly refusedByReason: Readonly<Record<keyof typeof REFUSED, number>>;
  /** herald_refusals_total{reason="slow_http_client"} at the end of the window, and when it first rose (ms after the requests). */
  readonly dropped: number;
  readonly droppedAtMs: number | null;
  /** The status line each socket finally read after the window (`none`: nothing arrived). */
  readonly statuses: Record<string, number>;
  /** A `history` call after the sockets went: its status. */
  readonly servedAfter: number | null;
}

export interface DecodeBatch {
  readonly frames: number;
  readonly frameBytes: number;
  /** Server CPU (utime + stime from /proc/<pid>/stat) over the batch, ms. */
  readonly cpuMs: number;
  /** Round trip of each frame, sent one at a time: mean and max, ms. */
  readonly meanMs: number;
  readonly maxMs: number;
  readonly answered: number;
  /** Answers that were a BAD_REQUEST error. */
  readonly badRequests: number;
}

export interface DecodeResult {
  readonly plain: DecodeBatch;
  readonly bigint: DecodeBatch;
  /** Whether the socket was still open after both batches (nothing closed it). */
  readonly socketOpen: boolean;
  /** What superjson's decoding of one such BigInt (`BigInt(digits)`) costs, measured in the orchestrator: the work the check spares. */
  readonly decodeOneMs: number;
}

export interface AbuseResult {
  readonly unread: UnreadResult;
  readonly decode: DecodeResult;
}

/**
 * Scenario 12: what a client that does not play by the rules costs Herald
 * with its production defaults (issue 26's targets). A Herald server in its
 * own process on the server core, with a channel `room` (history on), a
 * `history` query (the room's last 200 messages, as the demo's
 * `chat.history`) and `ping`.
 *
 * **Unread answers**: the room filled with 200 messages of 2,000 characters;
 * 10 raw TCP sockets each send a GET batch of 100 `history` calls and never
 * read. The server's RSS (/proc/<pid>/status) and `/healthz` are sampled every
 * 250 ms for a window past `httpWriteTimeoutMs`, so a drop is in it; then
 * the sockets close and RSS is read again. Refusals come from `/metrics`.
 *
 * **Decode cost**: on one WebSocket, 30 `ping` queries whose input is a
 * superjson BigInt of a million digits, against 30 frames of the same size
 * with a plain string input, one at a time; the server's CPU over each batch.
 */
export async function runAbuse(config: SuiteConfig): Promise<AbuseResult> {
  const unread = await withAbuseServer((server) => measureUnread(server, config.abuse));
  logUnread(unread);
  const decode = await withAbuseServer((server) => measureDecode(server, config.abuse.frames));
  logDecode(decode);
  return { unread, decode };
}

interface AbuseServer {
  readonly child: ChildProcess;
  readonly ipc: IpcClient<AbuseServerCommands>;
  readonly port: number;
  readonly pid: number;
}

async function withAbuseServer<T>(body: (server: AbuseServer) => Promise<T>): Promise<T> {
  const child = spawnBenchProcess(SERVER_ENTRY, [], { core: SERVER_CORE, nofile: 4_096 });
  try {
    const ipc = new IpcClient<AbuseServerCommands>(child, 'abuse server');
    const { port } = await waitReady(child, ipc, 'abuse server');
    return await body({ child, ipc, port, pid: child.pid ?? -1 });
  } finally {
    await stopProcess(child).catch(() => killProcess(child));
  }
}

// ── Unread answers ──────────────────────────────────────────────────────────

async function measureUnread(server: AbuseServer, c: SuiteConfig['abuse']): Promise<UnreadResult> {
  await server.ipc.request('fill', { messages: UNREAD.messages, chars: UNREAD.chars });
  const one = await httpGet(server.port, historyPath(1), 10_000);
  if (one.status !== 200) throw new Error(`a single history call answered ${one.status}`);

  // Baseline: the server idle but warm, sampled as in the window.
  const baseline = await sample(server, c.baselineMs);
  const baselineRss = median(baseline.rss.map((point) => point.rss));
  const heldBefore = await server.ipc.request('memory', null);

  const path = historyPath(UNREAD.batch);
  const sockets = Array.from({ length: UNREAD.clients }, () => openNonReader(server.port, path));
  const sentAt = performance.now();
  let refusedAtOnce = 0;
  let droppedAtMs: number | null = null;
  let held: ServerMemory | null = null;
  let end: Refusals;
  const statuses: Record<string, number> = {};
  let window: Samples;
  try {
    // Refusal counters once a second (the first 1 s after the requests: refused at once); when the drop shows.
    const counters = (async () => {
      for (let second = 1; performance.now() - sentAt < c.windowMs - 1_000; second++) {
        await sleep(Math.max(0, sentAt + second * 1_000 - performance.now()));
        const metrics = await refusals(server.port).catch(() => null);
        if (!metrics) continue;
        if (second === 1) refusedAtOnce = metrics.refused;
        if (droppedAtMs === null && metrics.dropped > 0) droppedAtMs = performance.now() - sentAt;
      }
    })();
    // Halfway through the window (the answer built, not yet dropped): where the server holds its memory.
    const midWindow = (async () => {
      await sleep(c.windowMs / 2);
      return server.ipc.request('memory', null).catch(() => null);
    })();
    window = await sample(server, c.windowMs);
    await counters;
    held = await midWindow;
    end = await refusals(server.port);

    for (const status of await Promise.all(sockets.map((socket) => statusOf(socket)))) statuses[status] = (statuses[status] ?? 0) + 1;
  } finally {
    // Bounded whatever happens: the sockets go with the scenario.
    for (const socket of sockets) socket.destroy();
  }
  const after = await sample(server, c.afterMs);
  const { rss: afterGcRss } = await server.ipc.request('collect', null);
  const servedAfter = (await httpGet(server.port, historyPath(1), 10_000).catch(() => null))?.status ?? null;

  const peak = window.rss.reduce((best, point) => (point.rss > best.rss ? point : best), { rss: 0, atMs: 0 });
  const latencies = window.health.map((probe) => probe.ms);
  const slowest = window.health.reduce((worst, probe) => (probe.ms > worst.ms ? probe : worst), { ms: Number.NEGATIVE_INFINITY, atMs: Number.NaN, timedOut: false });
  return {
    clients: UNREAD.clients,
    callsPerRequest: UNREAD.batch,
    answerBytesPerCall: one.bytes,
    windowMs: c.windowMs,
    baselineRss,
    peakRss: peak.rss,
    peakAtMs: peak.atMs,
    windowEndRss: window.rss.at(-1)?.rss ?? Number.NaN,
    afterMs: c.afterMs,
    afterRss: after.rss.at(-1)?.rss ?? Number.NaN,
    afterGcRss,
    heldBefore,
    held,
    rssTimeline: window.rss.map((point) => [Math.round(point.atMs), point.rss] as const),
    health: {
      probes: latencies.length,
      timeouts: window.health.filter((probe) => probe.timedOut).length,
      maxMs: slowest.ms,
      maxAtMs: slowest.atMs,
      p50Ms: median(latencies),
    },
    refusedAtOnce,
    refused: end.refused,
    refusedByReason: end.byReason,
    dropped: end.dropped,
    droppedAtMs,
    statuses,
    servedAfter,
  };
}

/** `/trpc/history,history,…?batch=1&input=…`: `calls` calls for the room's last 200 messages. */
function historyPath(calls: number): string {
  const input = Object.fromEntries(Array.from({ length: calls }, (_, index) => [index, { json: { room: ABUSE_ROOM, limit: HISTORY_LIMIT } }]));
  return `/trpc/${Array<string>(calls).fill('history').join(',')}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
}

/** A raw TCP socket that sends one GET and never reads: paused before it connects, so nothing is read from the kernel. */
function openNonReader(port: number, path: string): Socket {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.pause();
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  return socket;
}

/** The status of the first answer a non-reader's kernel holds, read only now (`none` when nothing came within 2 s). */
function statusOf(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const done = (status: string) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.pause();
      resolve(status);
    };
    const timer = setTimeout(() => done(text.startsWith('HTTP/') ? text.slice(9, 12) : 'none'), 2_000);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1', 0, 16);
      if (text.length >= 12) done(text.startsWith('HTTP/') ? text.slice(9, 12) : 'other');
    });
    socket.once('close', () => done(text.length >= 12 && text.startsWith('HTTP/') ? text.slice(9, 12) : 'closed'));
    socket.resume();
  });
}

interface Samples {
  readonly rss: { readonly rss: number; readonly atMs: number }[];
  readonly health: { readonly ms: number; readonly atMs: number; readonly timedOut: boolean }[];
}

/** RSS every 250 ms and a `/healthz` probe every 250 ms (the next one starts when the last answered or timed out), for `ms`. */
async function sample(server: AbuseServer, ms: number): Promise<Samples> {
  const started = performance.now();
  const samples: Samples = { rss: [], health: [] };
  const readRss = () => {
    const rss = rssOf(server.pid);
    if (rss !== null) samples.rss.push({ rss, atMs: performance.now() - started });
  };
  readRss();
  const timer = setInterval(readRss, UNREAD.sampleMs);
  try {
    while (performance.now() - started < ms) {
      const probeStart = performance.now();
      const probe = await httpGet(server.port, '/healthz', UNREAD.healthTimeoutMs).catch(() => null);
      const elapsed = performance.now() - probeStart;
      const timedOut = probe === null || probe.status !== 200;
      samples.health.push({ ms: timedOut ? Math.max(elapsed, UNREAD.healthTimeoutMs) : elapsed, atMs: probeStart - started, timedOut });
      await sleep(Math.max(0, Math.min(UNREAD.sampleMs - elapsed, started + ms - performance.now())));
    }
  } finally {
    clearInterval(timer);
  }
  readRss();
  return samples;
}

/** A process's resident set (bytes), from /proc/<pid>/status. */
function rssOf(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((row) => row.startsWith('VmRSS:'));
    const kib = line ? Number(line.slice(6).trim().split(/\s+/)[0]) : Number.NaN;
    return Number.isFinite(kib) ? kib * 1024 : null;
  } catch {
    return null;
  }
}

/** A GET on a fresh connection (no keep-alive): its status and body length, or a rejection after `timeoutMs`. */
function httpGet(port: number, path: string, timeoutMs: number): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => (bytes += chunk.length));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, bytes }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${path.slice(0, 40)} timed out after ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}

interface Refusals {
  readonly byReason: Record<keyof typeof REFUSED, number>;
  /** The sum of `byReason`. */
  readonly refused: number;
  readonly dropped: number;
}

/** The refusal counters the scenario reads from `/metrics`. */
async function refusals(port: number): Promise<Refusals> {
  const body = await new Promise<string>((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: 5_000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve(text));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error('GET /metrics timed out')));
    request.on('error', reject);
  });
  const counter = (reason: string) => {
    const match = new RegExp(`^herald_refusals_total\\{[^}]*reason="${reason}"[^}]*\\} (\\S+)$`, 'm').exec(body);
    return match ? Number(match[1]) : 0;
  };
  const byReason = Object.fromEntries(Object.keys(REFUSED).map((reason) => [reason, counter(reason)])) as Record<keyof typeof REFUSED, number>;
  return { byReason, refused: Object.values(byReason).reduce((sum, n) => sum + n, 0), dropped: counter('slow_http_client') };
}

// ── Decode cost ─────────────────────────────────────────────────────────────

async function measureDecode(server: AbuseServer, frames: number): Promise<DecodeResult> {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws`, { perMessageDeflate: false, maxPayload: 4 * 1024 * 1024 });
  let closed = false;
  ws.on('close', () => (closed = true));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('close', () => reject(new Error('the WebSocket closed before it opened')));
  });
  const pending = new Map<number, (text: string) => void>();
  ws.on('message', (data: RawData) => {
    const text = (Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)).toString();
    const id = (JSON.parse(text) as { id?: unknown }).id;
    if (typeof id === 'number') pending.get(id)?.(text);
  });

  const digits = '9'.repeat(DECODE.digits);
  const bigintFrame = (id: number) => JSON.stringify({ id, method: 'query', params: { path: 'ping', input: { json: digits, meta: { values: ['bigint'], v: 1 } } } });
  // The same length with a plain string input: a frame the server decodes in time linear in its size.
  const plainFrame = (id: number) => {
    const shell = JSON.stringify({ id, method: 'query', params: { path: 'ping', input: { json: '' } } });
    return JSON.stringify({ id, method: 'query', params: { path: 'ping', input: { json: 'x'.repeat(bigintFrame(id).length - shell.length) } } });
  };
  let nextId = 1_000_000;
  const batch = async (count: number, frame: (id: number) => string): Promise<DecodeBatch> => {
    const cpuBefore = processCpuMs(server.pid) ?? Number.NaN;
    const times: number[] = [];
    let answered = 0;
    let badRequests = 0;
    let frameBytes = 0;
    for (let n = 0; n < count && !closed; n++) {
      const id = nextId++;
      const text = frame(id);
      frameBytes = Buffer.byteLength(text);
      const started = performance.now();
      const answer = await new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => resolve(null), DECODE.frameTimeoutMs);
        pending.set(id, (reply) => {
          clearTimeout(timer);
          resolve(reply);
        });
        ws.send(text);
      });
      pending.delete(id);
      times.push(performance.now() - started);
      if (answer === null) continue;
      answered++;
      if (answer.includes('"error"') && answer.includes('BAD_REQUEST')) badRequests++;
    }
    const cpuMs = (processCpuMs(server.pid) ?? Number.NaN) - cpuBefore;
    return { frames: count, frameBytes, cpuMs, meanMs: times.reduce((sum, ms) => sum + ms, 0) / Math.max(1, times.length), maxMs: Math.max(...times), answered, badRequests };
  };

  // A warm-up of each kind (not counted), then the two batches.
  await batch(3, plainFrame);
  await batch(3, bigintFrame);
  await sleep(500);
  const plain = await batch(frames, plainFrame);
  await sleep(500);
  const bigint = await batch(frames, bigintFrame);
  await sleep(200);
  const socketOpen = !closed && ws.readyState === WebSocket.OPEN;
  ws.close();

  const decodeStart = performance.now();
  BigInt(digits);
  const decodeOneMs = performance.now() - decodeStart;
  return { plain, bigint, socketOpen, decodeOneMs };
}

// ── Logs ────────────────────────────────────────────────────────────────────

const MB = 1024 * 1024;

function logUnread(u: UnreadResult): void {
  const statuses = Object.entries(u.statuses)
    .map(([status, count]) => `${count}× ${status}`)
    .join(', ');
  log(
    `abuse unread: RSS ${fmt(u.baselineRss / MB, 0)} MB, peak +${fmt((u.peakRss - u.baselineRss) / MB, 0)} MB at ${fmt(u.peakAtMs / 1000, 1)} s, ` +
      `${fmt(u.windowEndRss / MB, 0)} MB at ${u.windowMs / 1000} s, ${fmt(u.afterRss / MB, 0)} MB ${u.afterMs / 1000} s after (${fmt(u.afterGcRss / MB, 0)} MB after gc); ` +
      `/healthz max ${fmt(u.health.maxMs, 0)} ms (${u.health.timeouts} timeouts of ${u.health.probes}); ` +
      `refused at once ${u.refusedAtOnce} (${Object.entries(u.refusedByReason)
        .map(([reason, n]) => `${reason} ${n}`)
        .join(', ')} by the end), dropped ${u.dropped}${u.droppedAtMs === null ? '' : ` (by ${fmt(u.droppedAtMs / 1000, 0)} s)`}; sockets read ${statuses}`,
  );
}

function logDecode(d: DecodeResult): void {
  log(
    `abuse decode: plain ${fmt(d.plain.cpuMs, 0)} ms CPU, BigInt ${fmt(d.bigint.cpuMs, 0)} ms CPU (${fmt(d.bigint.cpuMs / d.plain.cpuMs)}x); ` +
      `BigInt answered ${d.bigint.answered}/${d.bigint.frames}, ${d.bigint.badRequests} BAD_REQUEST; socket ${d.socketOpen ? 'open' : 'closed'}; ` +
      `one BigInt(1e6 digits) here ${fmt(d.decodeOneMs, 0)} ms`,
  );
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}
