// `pnpm bench` (the full suite, about 25 minutes) or `pnpm bench --quick`
// (about 8 minutes). Options for working on the bench itself:
//   --only fanout,paired,receive,memory,rpc,rpcecho,reconnect,scaleout,deflate,instructions,sse,node,shards,outbox,abuse,live,tracing,encoding   run only these scenarios
//   --systems herald,trpc,...                     fan-out and memory systems
//   --cpu-prof                                    profile the fan-out and node server processes (bench/results/profiles)
//   --out <dir>                                   where results.{md,png,json} go
// A complete full run writes the figures page, bench/results.md, and what it
// is made from (results.json, results.png) in bench/results/. A quick run, or
// one with --only or --systems, writes all three in bench/results/quick/ or
// bench/results/partial/ (git-ignored), leaving the committed figures alone.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { FULL, QUICK } from './config.js';
import { log } from './lib/log.js';
import { LOADGEN_CORE, pinningStatus, pinSelf } from './lib/proc.js';
import type { SystemName } from './lib/protocol.js';
import { fanoutChartSvg, svgToPng } from './report/chart.js';
import { deflateSummaryLines } from './report/deflate.js';
import { readEnvironment } from './report/env.js';
import { adminCostSectionOf, withAdminCostSection } from './report/adminCostSection.js';
import { bundleSizeSectionOf, withBundleSizeSection } from './report/bundleSizeSection.js';
import { renderMarkdown } from './report/markdown.js';
import type { SuiteResults } from './report/results.js';
import { formatTargetLine, targetLines } from './report/targets.js';
import { runAbuse, type AbuseResult } from './scenarios/abuse.js';
import { runDeflate, type DeflateRow } from './scenarios/deflate.js';
import { runLive, type LiveRow } from './scenarios/live.js';
import { runEncoding, type EncodingRow } from './scenarios/encoding.js';
import { callgrindMissing, INSTRUCTION_SYSTEMS, RPC_INSTRUCTION_SYSTEMS, runInstructions, type InstructionResults } from './scenarios/instructions.js';
import { FANOUT_SYSTEMS, runFanout, type FanoutRow } from './scenarios/fanout.js';
import { runPaired, type PairedRow } from './scenarios/paired.js';
import { MEMORY_SYSTEMS, runMemory, type MemoryRow } from './scenarios/memory.js';
import { NODE_SYSTEMS, runNode, type NodeRow, type NodeSystem } from './scenarios/node.js';
import { runOutbox, type OutboxRow } from './scenarios/outbox.js';
import { runReconnect, type StormRow } from './scenarios/reconnect.js';
import { runReceive, type ReceiveRow } from './scenarios/receive.js';
import { RPC_SERVERS, runRpc, runRpcEcho, type EchoRow, type RpcRow } from './scenarios/rpc.js';
import { runScaleout, type ScaleResult } from './scenarios/scaleout.js';
import { runShards, type ShardsResult } from './scenarios/shards.js';
import { runSse, type SseRow } from './scenarios/sse.js';
import { runTracing, type TracingRow } from './scenarios/tracing.js';

const SCENARIOS = ['fanout', 'paired', 'receive', 'memory', 'rpc', 'rpcecho', 'reconnect', 'scaleout', 'deflate', 'instructions', 'sse', 'node', 'shards', 'outbox', 'abuse', 'live', 'tracing', 'encoding'] as const;
type Scenario = (typeof SCENARIOS)[number];

const BENCH_DIR = fileURLToPath(new URL('../', import.meta.url));

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    systems: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
  allowPositionals: false,
});

const config = values.quick ? QUICK : FULL;
const only = new Set<Scenario>(values.only ? (values.only.split(',') as Scenario[]) : SCENARIOS);
for (const name of only) if (!SCENARIOS.includes(name)) throw new Error(`--only: unknown scenario ${name} (known: ${SCENARIOS.join(', ')})`);
const systems = values.systems ? (values.systems.split(',') as SystemName[]) : null;
const complete = config.name === 'full' && only.size === SCENARIOS.length && systems === null;
/** Where results.md goes, and where the files it is made from go. */
const pageDir = resolve(values.out ?? (complete ? BENCH_DIR : join(BENCH_DIR, 'results', config.name === 'quick' ? 'quick' : 'partial')));
const dataDir = values.out || !complete ? pageDir : join(BENCH_DIR, 'results');
const cpuProfDir = values['cpu-prof'] ? join(BENCH_DIR, 'results', 'profiles') : undefined;

/** A hard bound on the whole run: children exit when this process does (their IPC channel closes). */
const DEADLINE_MS = config.name === 'full' ? 90 * 60_000 : 20 * 60_000;
const deadline = setTimeout(() => {
  console.error(`[bench] giving up: the ${config.name} suite ran past ${DEADLINE_MS / 60_000} minutes`);
  process.exit(2);
}, DEADLINE_MS);
deadline.unref();

pinningStatus();
pinSelf(LOADGEN_CORE);
const environment = readEnvironment();
const started = Date.now();
log(`${config.name} suite (${values.quick ? 'under 20 minutes' : 'about an hour'}); ${environment.pinning}; load average ${environment.loadAverage}`);
if (cpuProfDir) mkdirSync(cpuProfDir, { recursive: true });

const notes: string[] = [];
let fanout: FanoutRow[] = [];
let paired: PairedRow[] = [];
let memory: MemoryRow[] = [];
let rpc: RpcRow[] = [];
let rpcEcho: EchoRow[] = [];
let receive: ReceiveRow[] = [];
let reconnect: StormRow[] = [];
let scaleout: ScaleResult | null = null;
let deflate: DeflateRow[] = [];
let instructions: InstructionResults = { fanout: [], rpc: [] };
let sse: SseRow[] = [];
let node: NodeRow[] = [];
let shards: ShardsResult | null = null;
let outbox: OutboxRow[] = [];
let abuse: AbuseResult | null = null;
let live: LiveRow[] = [];
let tracing: TracingRow[] = [];
let encoding: EncodingRow[] = [];

/** Runs one scenario; a failure is reported and the suite goes on. */
async function scenario<T>(name: Scenario, run: () => Promise<T>, fallback: T): Promise<T> {
  if (!only.has(name)) return fallback;
  log(`── ${name}`);
  try {
    return await run();
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    console.error(`[bench] ${name} failed:`, error);
    notes.push(`Scenario ${name} failed: ${message}`);
    return fallback;
  }
}

const pick = (list: readonly SystemName[]) => (systems ? list.filter((system) => systems.includes(system)) : list);
fanout = await scenario('fanout', () => runFanout(config, { systems: pick(FANOUT_SYSTEMS), cpuProfDir }), fanout);
paired = await scenario('paired', () => runPaired(config), paired);
receive = await scenario('receive', () => runReceive(config), receive);
memory = await scenario('memory', () => runMemory(config, pick(MEMORY_SYSTEMS)), memory);
rpc = await scenario('rpc', () => runRpc(config, RPC_SERVERS), rpc);
rpcEcho = await scenario('rpcecho', () => runRpcEcho(config), rpcEcho);
reconnect = await scenario('reconnect', () => runReconnect(config, ['herald', 'trpc']), reconnect);
scaleout = await scenario('scaleout', () => runScaleout(config), scaleout);
deflate = await scenario('deflate', () => runDeflate(config), deflate);
instructions = await scenario(
  'instructions',
  async () => {
    const missing = callgrindMissing();
    if (missing) throw new Error(missing);
    return runInstructions(config, pick(INSTRUCTION_SYSTEMS), pick(RPC_INSTRUCTION_SYSTEMS));
  },
  instructions,
);
sse = await scenario('sse', () => runSse(config), sse);
node = await scenario('node', () => runNode(config, { systems: pick(NODE_SYSTEMS) as NodeSystem[], cpuProfDir }), node);
shards = await scenario('shards', () => runShards(config), shards);
outbox = await scenario('outbox', () => runOutbox(config), outbox);
abuse = await scenario('abuse', () => runAbuse(config), abuse);
live = await scenario('live', () => runLive(config), live);
tracing = await scenario('tracing', () => runTracing(config), tracing);
encoding = await scenario('encoding', () => runEncoding(config), encoding);
if (only.size < SCENARIOS.length) notes.push(`Only these scenarios ran: ${[...only].join(', ')}.`);

const results: SuiteResults = {
  environment,
  config,
  durationSec: (Date.now() - started) / 1000,
  loadAverageAtEnd: loadavg()
    .map((value) => value.toFixed(2))
    .join(' '),
  fanout,
  paired,
  receive,
  memory,
  rpc,
  rpcEcho,
  reconnect,
  scaleout,
  deflate,
  instructions,
  sse,
  node,
  shards,
  outbox,
  abuse,
  live,
  tracing,
  encoding,
  notes,
};

mkdirSync(pageDir, { recursive: true });
mkdirSync(dataDir, { recursive: true });
const pageFile = join(pageDir, 'results.md');
const dataFile = join(dataDir, 'results.json');
let chartFile: string | null = null;
if (fanout.length > 0) {
  const svg = fanoutChartSvg(results);
  try {
    const file = join(dataDir, 'results.png');
    writeFileSync(file, svgToPng(svg));
    chartFile = file;
  } catch (error) {
    console.error('[bench] could not render the chart to PNG:', error);
    notes.push(`The chart could not be rendered to PNG: ${String(error)}`);
  }
}
const targets = targetLines(results);
// The page links the chart relative to itself.
const page = renderMarkdown(results, targets, chartFile ? relative(pageDir, chartFile) : null);
// The bundle sizes (`pnpm bench:size`) and the admin page cost (`pnpm bench:admin`) are not from this run: carried over as they are.
const previousPage = existsSync(pageFile) ? readFileSync(pageFile, 'utf8') : '';
const bundleSizes = bundleSizeSectionOf(previousPage);
const adminCost = adminCostSectionOf(previousPage);
const withBundleSizes = bundleSizes ? withBundleSizeSection(page, bundleSizes) : page;
writeFileSync(pageFile, adminCost ? withAdminCostSection(withBundleSizes, adminCost) : withBundleSizes);
writeFileSync(dataFile, `${JSON.stringify(results, null, 2)}\n`);

const written = [pageFile, chartFile, dataFile].filter((file): file is string => file !== null);
log(`done in ${Math.round(results.durationSec)} s; wrote ${written.map((file) => relative(process.cwd(), file)).join(', ')}`);
console.log("\nHerald's ratios against each baseline:");
for (const line of targets) console.log(`  ${formatTargetLine(line)}`);
const deflateLines = deflateSummaryLines(deflate);
if (deflateLines.length > 0) {
  console.log('\npermessage-deflate against no compression:');
  for (const line of deflateLines) console.log(`  ${line}`);
}
if (notes.length > 0) {
  console.log('\nNotes:');
  for (const note of notes) console.log(`  - ${note}`);
}
clearTimeout(deadline);
