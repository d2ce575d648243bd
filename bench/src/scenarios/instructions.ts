import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, subscriberKindOf, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { sleep } from '../lib/proc.js';
import type { SystemName } from '../lib/protocol.js';

/** Herald, the fixed-rate targets' baseline, and raw ws on tRPC's wire (each run is a minute or two under callgrind). */
export const INSTRUCTION_SYSTEMS: readonly SystemName[] = ['raw-ws-string', 'raw-ws-trpc', 'herald'];

/** Servers of the RPC count: each answers the minimal wire client's `ping`. */
export const RPC_INSTRUCTION_SYSTEMS: readonly SystemName[] = ['raw-ws-string', 'trpc', 'socketio', 'herald'];

export interface InstructionRow {
  readonly system: SystemName;
  readonly subscribers: number;
  /** Messages in the counted stretch (each published in its own tick, as in the fixed-rate runs). */
  readonly messages: number;
  /** User-space instructions of the whole server process (every thread: GC and compilers included) per delivery. */
  readonly instructionsPerDelivery: number;
}

export interface RpcInstructionRow {
  readonly system: SystemName;
  readonly connections: number;
  readonly calls: number;
  /** User-space instructions of the server process per answered call. */
  readonly instructionsPerCall: number;
}

export interface InstructionResults {
  readonly fanout: InstructionRow[];
  readonly rpc: RpcInstructionRow[];
}

/**
 * Server instructions per delivery and per RPC call, counted by valgrind's
 * callgrind: unlike CPU time, the count barely depends on what else the
 * machine is doing or on its clock speed (runs here differ by up to about
 * 15%, as a collection or a compile falls inside the window or not, where CPU
 * time differs by 2x). Each server runs under callgrind (tens of times
 * slower), gets its load and a warm-up (so V8 has optimized the hot paths);
 * then the counters are zeroed, a fixed number of messages is published one
 * per tick (or calls run for a while), and the counters are dumped once every
 * delivery has arrived. Kernel work is not counted (the fan-out scenario
 * reports the system-time share and write syscalls per delivery, natively:
 * under valgrind its own scheduler's pipe writes would swamp the count).
 */
export async function runInstructions(
  config: SuiteConfig,
  systems: readonly SystemName[],
  rpcSystems: readonly SystemName[],
): Promise<InstructionResults> {
  const fanout = await countFanout(config, systems);
  const rpc: RpcInstructionRow[] = [];
  for (const system of rpcSystems) {
    const row = await countRpc(system, config.instructions.rpc);
    rpc.push(row);
    log(`instructions rpc ${system} ${row.connections} conn × 1: ${fmt(row.instructionsPerCall)} instructions/call (${row.calls.toLocaleString('en-US')} calls)`);
  }
  return { fanout, rpc };
}

async function countFanout(config: SuiteConfig, systems: readonly SystemName[]): Promise<InstructionRow[]> {
  const { subscribers: counts, deliveriesPerSec, warmupDeliveries, deliveries } = config.instructions;
  const rows: InstructionRow[] = [];
  for (const subscribers of counts) {
    const messagesOf = (count: number) => Math.max(1, Math.round(count / subscribers));
    for (const system of systems) {
      const row = await countOne(system, subscribers, messagesOf(warmupDeliveries), messagesOf(deliveries), deliveriesPerSec / subscribers);
      rows.push(row);
      log(
        `instructions ${system} N=${subscribers}: ${fmt(row.instructionsPerDelivery)} instructions/delivery (${row.messages} messages)`,
      );
    }
  }
  return rows;
}

/** Why valgrind (with callgrind_control) cannot run here, or null: the scenario then fails with that reason, noted in the report. */
export function callgrindMissing(): string | null {
  for (const tool of ['valgrind', 'callgrind_control']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed (apt-get install valgrind)`;
  }
  return null;
}

/** A server under callgrind (counting from the start; `countSection` zeroes first) and a load generator. */
async function underCallgrind<T>(system: SystemName, body: (server: ServerProcess, loadgen: LoadgenProcess, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-callgrind-'));
  try {
    return await withProcesses(async (track) => {
      const server = track(
        await ServerProcess.start(
          { system, port: 0 },
          {
            wrapper: ['valgrind', '--tool=callgrind', '--quiet', `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`],
            readyTimeoutMs: 300_000,
          },
        ),
      );
      const loadgen = track(await LoadgenProcess.start());
      return body(server, loadgen, dir);
    });
  } finally {
    // KEEP_CALLGRIND=1 keeps the dumps, for `callgrind_annotate` (JavaScript shows as unnamed addresses; builtins and V8/libuv by name).
    if (process.env['KEEP_CALLGRIND']) log(`  callgrind dumps of ${system} kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/** The instructions `server` executes while `run` runs: counters zeroed before, dumped after. */
async function countSection(server: ServerProcess, dir: string, run: () => Promise<void>): Promise<number> {
  callgrindControl('--zero', server.pid);
  await run();
  callgrindControl('--dump', server.pid);
  return dumpedInstructions(dir, server.pid);
}

async function countOne(system: SystemName, subscribers: number, warmup: number, messages: number, perSec: number): Promise<InstructionRow> {
  return underCallgrind(system, async (server, loadgen, dir) => {
    const connected = await loadgen.ipc.request(
      'connect',
      { kind: subscriberKindOf(system), urls: [server.url], count: subscribers, subscribe: true, concurrency: 20, reconnect: null },
      600_000,
    );
    if (connected.failed > 0) throw new Error(`${connected.failed} of ${subscribers} ${system} subscribers failed to connect`);
    await loadgen.ipc.request('snapshot', { startRun: true });
    await publishAll(server, loadgen, warmup, subscribers, perSec);
    const instructions = await countSection(server, dir, () => publishAll(server, loadgen, messages, subscribers, perSec));
    return { system, subscribers, messages, instructionsPerDelivery: instructions / (messages * subscribers) };
  });
}

/**
 * `ping` in closed loops from the minimal wire client (Socket.IO: the
 * minimal client of its protocol, an emit with acknowledgement), one call in
 * flight per connection: instructions per answered call.
 */
async function countRpc(system: SystemName, plan: SuiteConfig['instructions']['rpc']): Promise<RpcInstructionRow> {
  return underCallgrind(system, async (server, loadgen, dir) => {
    await loadgen.ipc.request('reset', { creditStep: 0 });
    const kind = system === 'socketio' ? 'socketio-wire' : 'trpc-wire';
    await loadgen.ipc.request('rpcStart', { kind, url: server.url, connections: plan.connections, depth: 1 }, 300_000);
    try {
      await sleep(plan.warmupMs);
      await loadgen.ipc.request('snapshot', { startRun: true });
      let calls = 0;
      const instructions = await countSection(server, dir, async () => {
        await sleep(plan.windowMs);
        const snapshot = await loadgen.ipc.request('snapshot', { startRun: false });
        if (snapshot.errors > 0) throw new Error(`the load generator saw ${snapshot.errors} errors`);
        calls = snapshot.events;
      });
      if (calls === 0) throw new Error(`no ${system} call was answered in ${plan.windowMs} ms`);
      return { system, connections: plan.connections, calls, instructionsPerCall: instructions / calls };
    } finally {
      await loadgen.ipc.request('rpcStop', null);
    }
  });
}

/** Publishes `count` messages at `perSec` and waits until every subscriber has every one. */
async function publishAll(server: ServerProcess, loadgen: LoadgenProcess, count: number, subscribers: number, perSec: number): Promise<void> {
  await server.ipc.request('publish', { mode: 'fixed', messagesPerSec: perSec, count });
  const expected = count * subscribers;
  // Bounded: the publishing itself takes count / perSec; allow ten times that and a minute more under valgrind.
  const deadline = Date.now() + (count / perSec) * 10_000 + 60_000;
  let received = 0;
  while (received < expected) {
    if (Date.now() > deadline) throw new Error(`only ${received} of ${expected} deliveries arrived`);
    await sleep(200);
    const snapshot = await loadgen.ipc.request('snapshot', { startRun: false });
    received += snapshot.events;
    if (snapshot.errors > 0) throw new Error(`the load generator saw ${snapshot.errors} errors`);
  }
  if (received > expected) throw new Error(`${received} deliveries arrived for ${expected} sent`);
}

function callgrindControl(command: '--zero' | '--dump', pid: number): void {
  const result = spawnSync('callgrind_control', [command, String(pid)], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0 || !/OK/.test(result.stdout)) {
    throw new Error(`callgrind_control ${command} ${pid} failed: ${result.stdout}${result.stderr}`);
  }
}

/** The `totals:` of the dump callgrind wrote on request (`callgrind.out.<pid>.<n>`). */
function dumpedInstructions(dir: string, pid: number): number {
  const dumps = readdirSync(dir).filter((name) => name.startsWith(`callgrind.out.${pid}.`));
  if (dumps.length !== 1) throw new Error(`expected one callgrind dump for ${pid}, found ${dumps.join(', ') || 'none'}`);
  const totals = /^totals:\s+(\d+)/m.exec(readFileSync(join(dir, dumps[0]!), 'utf8'));
  if (!totals) throw new Error(`no totals in ${dumps[0]}`);
  return Number(totals[1]);
}
