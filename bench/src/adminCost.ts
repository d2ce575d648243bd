// `pnpm bench:admin`: the server CPU the admin page adds, at 10,000
// connections. Three windows on a server publishing 100 messages/s to 100
// rooms of 100 subscribers (10,000 deliveries/s): admin off (its own server
// process), admin on with no page open, and admin on with the page open (a
// Herald client on the admin socket streaming `cluster`, what the page
// does, plus a search and a channel detail a second). Writes the section of bench/results.md between the admin-cost markers.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHeraldClient } from '@herald/client';
import type { AdminRouter } from '@herald/server';
import { WebSocket } from 'ws';
import { ADMIN_TOKEN, PUBLISH_PER_SECOND, ROOMS, type AdminBenchReply } from './admin/shared.js';
import { LOADGEN_CORE, pinningStatus, pinSelf } from './lib/proc.js';
import { withAdminCostSection } from './report/adminCostSection.js';

const CONNECTIONS = Number(process.env['ADMIN_BENCH_CONNECTIONS'] ?? 10_000);
const WARMUP_MS = 5_000;
/** Between a page opening or closing and the window after it. */
const SETTLE_MS = 2_000;
const WINDOW_MS = Number(process.env['ADMIN_BENCH_WINDOW_MS'] ?? 8_000);
const RESULTS = fileURLToPath(new URL('../results.md', import.meta.url));

pinSelf(LOADGEN_CORE);

interface ServerHandle {
  readonly child: ChildProcess;
  readonly port: number;
  ask(): Promise<Extract<AdminBenchReply, { type: 'cpu' }>>;
  stop(): Promise<void>;
}

async function startServer(admin: 'on' | 'off'): Promise<ServerHandle> {
  const child = fork(fileURLToPath(new URL('./admin/server.ts', import.meta.url)), [admin], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.on('message', (message: AdminBenchReply) => {
      if (message.type === 'ready') resolve(message.port);
    });
  });
  return {
    child,
    port,
    ask: () =>
      new Promise((resolve) => {
        const listener = (message: AdminBenchReply) => {
          if (message.type !== 'cpu') return;
          child.off('message', listener);
          resolve(message);
        };
        child.on('message', listener);
        child.send({ type: 'cpu' });
      }),
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.send({ type: 'stop' });
      }),
  };
}

/** One minimal wire subscriber: tRPC's subscription frame, PONG for the server's PING, nothing parsed. */
function subscriber(port: number, index: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    socket.once('open', () => {
      socket.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'onMessage', input: { json: { room: `room-${index % ROOMS}` } } } }));
      resolve(socket);
    });
    socket.on('message', (data) => {
      if (data.toString() === 'PING') socket.send('PONG');
    });
    socket.once('error', reject);
  });
}

async function connectAll(port: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < CONNECTIONS; i += 200) {
    const batch = Array.from({ length: Math.min(200, CONNECTIONS - i) }, (_, j) => subscriber(port, i + j));
    sockets.push(...(await Promise.all(batch)));
  }
  return sockets;
}

/**
 * Server CPU over one window, as a share of one core, scaled to the nominal
 * publish rate by the messages the window actually published (a timer that
 * ran late on the shared machine publishes its backlog in the next window).
 */
async function measure(server: ServerHandle, label: string): Promise<number> {
  const before = await server.ask();
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const after = await server.ask();
  const share = (after.cpuUs - before.cpuUs) / 1000 / (after.atMs - before.atMs);
  const rate = ((after.published - before.published) * 1000) / (after.atMs - before.atMs);
  const scaled = rate > 0 ? (share * PUBLISH_PER_SECOND) / rate : share;
  console.log(
    `[bench:admin] ${label}: ${(share * 100).toFixed(1)}% of a core, ${after.connections} connections, ${rate.toFixed(0)} published/s (${(scaled * 100).toFixed(1)}% at ${PUBLISH_PER_SECOND}/s)`,
  );
  return scaled;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Page-open windows, each between two page-closed windows. */
const CYCLES = Number(process.env['ADMIN_BENCH_CYCLES'] ?? 8);

async function run(admin: 'on' | 'off'): Promise<{ closed: number[]; open: number[] }> {
  const server = await startServer(admin);
  const sockets = await connectAll(server.port);
  await pause(WARMUP_MS);
  const closed: number[] = [];
  const open: number[] = [];
  closed.push(await measure(server, `admin ${admin}, page closed`));
  for (let cycle = 0; admin === 'on' && cycle < CYCLES; cycle++) {
    const page = createHeraldClient<AdminRouter>({ url: `ws://127.0.0.1:${server.port}/admin/ws`, connectionParams: { token: ADMIN_TOKEN } });
    let firstView: () => void = () => {};
    const viewed = new Promise<void>((resolve) => {
      firstView = resolve;
    });
    const stream = page.trpc.cluster.subscribe(undefined, { onData: () => firstView() });
    // The window starts once the page has its figures (a busy load generator may take a while to connect).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      viewed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('the admin client received no figures within 60 s')), 60_000);
      }),
    ]);
    clearTimeout(timer);
    // An operator at work: once a second, a search that matches nothing (every connection compared) and a channel's detail.
    const operator = setInterval(() => {
      void page.trpc.lookup.query({ query: 'nobody' }).catch(() => undefined);
      void page.trpc.channel.query({ topic: 'bench:room-1' }).catch(() => undefined);
    }, 1_000);
    await pause(SETTLE_MS);
    open.push(await measure(server, 'admin on, page open'));
    clearInterval(operator);
    stream.unsubscribe();
    await page.close();
    await pause(SETTLE_MS);
    closed.push(await measure(server, 'admin on, page closed'));
  }
  for (let cycle = 0; admin === 'off' && cycle < CYCLES; cycle++) closed.push(await measure(server, 'admin off'));
  for (const socket of sockets) socket.terminate();
  await server.stop();
  return { closed, open };
}

const off = await run('off');
const on = await run('on');
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const offCpu = mean(off.closed);
const closedCpu = mean(on.closed);
const openCpu = mean(on.open);
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
// Each page-open window against the mean of the closed windows either side of it: drift on the shared machine cancels out.
const paired = on.open.map((open, i) => open / (((on.closed[i] ?? open) + (on.closed[i + 1] ?? open)) / 2)).sort((a, b) => a - b);
const medianPaired = paired[Math.floor(paired.length / 2)] ?? 1;
const spread = (values: number[]) => `${percent(Math.min(...values))} to ${percent(Math.max(...values))}`;
const section = [
  '<!-- admin-cost:start (written by pnpm bench:admin) -->',
  '## Admin page cost',
  '',
  `Written by \`pnpm bench:admin\` (bench/src/adminCost.ts): server CPU (share of one core) at ${CONNECTIONS.toLocaleString('en')} WebSocket connections, ${ROOMS} rooms of ${CONNECTIONS / ROOMS} subscribers, ${PUBLISH_PER_SECOND} messages/s published (${((PUBLISH_PER_SECOND * CONNECTIONS) / ROOMS).toLocaleString('en')} deliveries/s), ${WINDOW_MS / 1000} s windows: ${off.closed.length} with admin off (a server of its own), then, on one server with admin on, ${on.open.length} with the page open, each between two with it closed. "Page open" is one Herald client on the admin socket streaming \`cluster\` every second (with the event log's latest 50 events), as the page does, and, as an operator at work, once a second a search that matches nothing (every connection compared) and one channel's detail (subscribers per node, members, last 20 messages). CPU is the server process's own (\`process.cpuUsage\`), scaled to 100 messages/s by what each window published; the machine is shared with other work, so compare the means and the spread of the windows. Pinning: ${pinningStatus().reason}.`,
  '',
  '| server | CPU (mean) | windows | vs admin off | vs page closed |',
  '|---|---|---|---|---|',
  `| admin off | ${percent(offCpu)} | ${spread(off.closed)} | 1.00 | |`,
  `| admin on, page closed | ${percent(closedCpu)} | ${spread(on.closed)} | ${(closedCpu / offCpu).toFixed(2)} | 1.00 |`,
  `| admin on, page open | ${percent(openCpu)} | ${spread(on.open)} | ${(openCpu / offCpu).toFixed(2)} | ${(openCpu / closedCpu).toFixed(2)} |`,
  '',
  `Page open against the closed windows either side of it, window by window: median ${medianPaired.toFixed(2)}, from ${(paired[0] ?? 1).toFixed(2)} to ${(paired.at(-1) ?? 1).toFixed(2)}.`,
  '<!-- admin-cost:end -->',
].join('\n');
console.log(section);
writeFileSync(RESULTS, withAdminCostSection(readFileSync(RESULTS, 'utf8'), section));
process.exit(0);
