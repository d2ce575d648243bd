/**
 * Server-Sent Events (the HTTP fallback) against WebSocket: how many channel
 * messages per second reach subscribers, and how late, on each transport.
 *
 *   node --conditions=herald-source --import tsx bench/src/sseVsWs.ts [--quick]
 *
 * The Herald server runs in a child process (this file with `--server`), so
 * its CPU is not shared with the clients; it publishes from inside the
 * process on command, stamping each message with the wall clock
 * (`performance.timeOrigin + performance.now()`, comparable across processes
 * on one machine). The parent holds Herald clients (`transport: 'websocket'`
 * or `'http'`), one subscription each, and measures:
 *
 * - throughput: a burst of messages published as fast as the broker takes
 *   them; deliveries per second until every subscriber has the last one;
 * - latency: messages at a fixed rate; publish-to-`onData` time per delivery.
 *
 * CPU per delivery during the burst is reported for each process, so the
 * cost of a transport shows on the side that pays it. Both sides share the
 * machine's cores.
 *
 * Every wait is bounded, and the whole run stops after `RUN_LIMIT_MS`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { initTRPC } from '@trpc/server';
import { z } from 'zod';
import { createHeraldClient, type HeraldClient } from '@herald/client';
import { createHerald, createHeraldServer, heraldErrorFormatter, resumeInput, transformer } from '@herald/server';

const QUICK = process.argv.includes('--quick');
const RUN_LIMIT_MS = QUICK ? 60_000 : 150_000;
const SUBSCRIBER_COUNTS = QUICK ? [1, 20] : [1, 50];
/** Deliveries per burst (messages = this / subscribers). */
const BURST_DELIVERIES = QUICK ? 20_000 : 100_000;
/** Latency is measured at a light load: this many messages/s, at most `PACED_DELIVERIES_PER_SEC` deliveries/s. */
const PACED_RATE_PER_SEC = 200;
const PACED_DELIVERIES_PER_SEC = 2_500;
const PACED_DURATION_MS = QUICK ? 1_500 : 3_000;
const WAIT_LIMIT_MS = 30_000;

const now = () => performance.timeOrigin + performance.now();

interface Tick {
  readonly seq: number;
  readonly sentAt: number;
}

// ---------------------------------------------------------------- server side

function createBenchApp() {
  const herald = createHerald();
  const ticks = herald.channel('bench', {
    key: z.string().min(1).max(16),
    message: z.object({ seq: z.number().int(), sentAt: z.number() }),
    history: { size: 200_000, ttlMs: 600_000 },
    subscriberBufferSize: 200_000,
  });
  const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    ticks: t.procedure
      .input(z.object({ key: z.string(), ...resumeInput }))
      .subscription(({ input, signal }) => ticks.stream(input.key, { lastEventId: input.lastEventId, signal })),
  });
  return { herald, ticks, router };
}

export type BenchRouter = ReturnType<typeof createBenchApp>['router'];

type Command =
  | { type: 'burst'; key: string; count: number }
  | { type: 'paced'; key: string; ratePerSec: number; durationMs: number }
  | { type: 'cpu' }
  | { type: 'stop' };

async function runServer(): Promise<void> {
  const app = createBenchApp();
  const server = await createHeraldServer({
    router: app.router,
    herald: app.herald,
    port: 0,
    host: '127.0.0.1',
    createContext: () => ({}),
  });
  let seq = 0;
  process.on('message', (command: Command) => {
    void (async () => {
      if (command.type === 'stop') {
        await server.close();
        await app.herald.close();
        process.exit(0);
      }
      if (command.type === 'cpu') {
        const { user, system } = process.cpuUsage();
        process.send?.({ type: 'cpu', micros: user + system });
        return;
      }
      if (command.type === 'burst') {
        for (let sent = 0; sent < command.count; ) {
          const chunk = Math.min(200, command.count - sent);
          await Promise.all(Array.from({ length: chunk }, () => app.ticks.publish(command.key, { seq: seq++, sentAt: now() })));
          sent += chunk;
        }
      } else {
        const total = Math.round((command.ratePerSec * command.durationMs) / 1_000);
        const started = now();
        for (let sent = 0; sent < total; sent++) {
          const due = started + (sent * 1_000) / command.ratePerSec;
          const wait = due - now();
          if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
          await app.ticks.publish(command.key, { seq: seq++, sentAt: now() });
        }
      }
      process.send?.({ type: 'published', lastSeq: seq - 1 });
    })();
  });
  process.send?.({ type: 'ready', url: server.url });
}

// ---------------------------------------------------------------- client side

interface Subscriber {
  readonly client: HeraldClient<BenchRouter>;
  lastSeq: number;
  live: boolean;
  latencies: number[] | null;
  readonly stop: () => void;
}

function subscriber(url: string, transport: 'websocket' | 'http', key: string): Subscriber {
  const client = createHeraldClient<BenchRouter>({ url, transport, backoff: { initialDelayMs: 50, maxDelayMs: 500 } });
  const sub: Subscriber = {
    client,
    lastSeq: -1,
    live: false,
    latencies: null,
    stop: () => undefined,
  };
  const subscription = client.trpc.ticks.subscribe(
    { key },
    {
      onData: ({ data: event }) => {
        if (event.type === 'live') sub.live = true;
        else if (event.type === 'message') {
          const tick = event.message as Tick;
          sub.lastSeq = tick.seq;
          sub.latencies?.push(now() - tick.sentAt);
        } else if (event.type === 'gap') throw new Error(`a gap (${event.reason}) in the benchmark stream`);
      },
      onError: (error) => {
        throw error;
      },
    },
  );
  return Object.assign(sub, { stop: () => subscription.unsubscribe() });
}

async function until(predicate: () => boolean, label: string, timeoutMs = WAIT_LIMIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`${label}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function send(child: ChildProcess, command: Command): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string; lastSeq?: number }) => {
      if (message.type !== 'published') return;
      child.off('message', onMessage);
      resolve(message.lastSeq ?? -1);
    };
    child.on('message', onMessage);
    child.send(command);
  });
}

function serverCpuMicros(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const onMessage = (message: { type: string; micros?: number }) => {
      if (message.type !== 'cpu') return;
      child.off('message', onMessage);
      resolve(message.micros ?? 0);
    };
    child.on('message', onMessage);
    child.send({ type: 'cpu' } satisfies Command);
  });
}

function clientCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Row {
  transport: string;
  subscribers: number;
  messagesPerSec: number;
  deliveriesPerSec: number;
  /** CPU time per delivery during the burst, server process and client process. */
  serverMicros: number;
  clientMicros: number;
  p50: number;
  p99: number;
  max: number;
}

async function measure(child: ChildProcess, url: string, transport: 'websocket' | 'http', count: number, run: number): Promise<Row> {
  const key = `k${run}`;
  const subscribers = Array.from({ length: count }, () => subscriber(url, transport, key));
  try {
    await until(() => subscribers.every((s) => s.live), `${count} ${transport} subscribers live`);

    // Throughput: one burst, timed until every subscriber has its last message.
    const messages = Math.max(100, Math.round(BURST_DELIVERIES / count));
    const [serverBefore, clientBefore] = [await serverCpuMicros(child), clientCpuMicros()];
    const started = now();
    const lastSeq = await send(child, { type: 'burst', key, count: messages });
    await until(() => subscribers.every((s) => s.lastSeq >= lastSeq), `${transport} burst delivered`);
    const seconds = (now() - started) / 1_000;
    const [serverAfter, clientAfter] = [await serverCpuMicros(child), clientCpuMicros()];
    const deliveries = messages * count;

    // Latency: a steady rate well under either transport's ceiling.
    for (const s of subscribers) s.latencies = [];
    const ratePerSec = Math.min(PACED_RATE_PER_SEC, PACED_DELIVERIES_PER_SEC / count);
    const pacedLast = await send(child, { type: 'paced', key, ratePerSec, durationMs: PACED_DURATION_MS });
    await until(() => subscribers.every((s) => s.lastSeq >= pacedLast), `${transport} paced messages delivered`);
    const latencies = subscribers.flatMap((s) => s.latencies ?? []).sort((a, b) => a - b);
    return {
      transport: transport === 'http' ? 'SSE (http)' : 'WebSocket',
      subscribers: count,
      messagesPerSec: messages / seconds,
      deliveriesPerSec: deliveries / seconds,
      serverMicros: (serverAfter - serverBefore) / deliveries,
      clientMicros: (clientAfter - clientBefore) / deliveries,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
    };
  } finally {
    for (const s of subscribers) s.stop();
    await Promise.all(subscribers.map((s) => s.client.close()));
  }
}

function printTable(rows: readonly Row[]): void {
  const header = ['transport', 'subscribers', 'messages/s', 'deliveries/s', 'server µs/delivery', 'client µs/delivery', 'p50 ms', 'p99 ms', 'max ms'];
  const lines = rows.map((r) => [
    r.transport,
    String(r.subscribers),
    Math.round(r.messagesPerSec).toLocaleString('en-US'),
    Math.round(r.deliveriesPerSec).toLocaleString('en-US'),
    r.serverMicros.toFixed(1),
    r.clientMicros.toFixed(1),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.max.toFixed(2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const format = (cells: readonly string[]) => `| ${cells.map((c, i) => (i < 1 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(' | ')} |`;
  console.log(format(header));
  console.log(`|${widths.map((w, i) => (i < 1 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const line of lines) console.log(format(line));
}

async function runParent(): Promise<void> {
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const limit = setTimeout(() => {
    console.error(`[sseVsWs] stopped after ${RUN_LIMIT_MS} ms`);
    child.kill();
    process.exit(1);
  }, RUN_LIMIT_MS);
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.once('message', (message: { type: string; url?: string }) => (message.url ? resolve(message.url) : reject(new Error('no url'))));
      child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
    });
    console.log(
      `[sseVsWs] Node ${process.version}, ${QUICK ? 'quick' : 'full'} run: bursts of ${BURST_DELIVERIES.toLocaleString('en-US')} deliveries, ` +
        `latency at ${PACED_RATE_PER_SEC} messages/s (at most ${PACED_DELIVERIES_PER_SEC.toLocaleString('en-US')} deliveries/s) for ${PACED_DURATION_MS} ms`,
    );
    const rows: Row[] = [];
    let run = 0;
    for (const count of SUBSCRIBER_COUNTS) {
      for (const transport of ['websocket', 'http'] as const) {
        rows.push(await measure(child, url, transport, count, run++));
      }
    }
    printTable(rows);
    child.send({ type: 'stop' } satisfies Command);
    await new Promise((resolve) => child.once('exit', resolve));
  } finally {
    clearTimeout(limit);
    if (child.exitCode === null) child.kill();
  }
}

if (process.argv.includes('--server')) await runServer();
else await runParent();
