import type { SuiteConfig } from '../config.js';
import { LoadgenProcess, ServerProcess, subscriberKindOf, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { sleep } from '../lib/proc.js';
import { median, range } from '../lib/stats.js';
import type { LoopDelay, ServerStats, SystemName } from '../lib/protocol.js';

export type NodeSystem = Extract<SystemName, 'herald' | 'raw-ws-string' | 'raw-ws-ping' | 'raw-ws-textping'>;

/**
 * Herald with its default heartbeats; bare `ws` with no heartbeats at all
 * (the floor); bare `ws` pinging every idle socket at Herald's rate and
 * spread, with `ws.ping()` and with tRPC's text `PING` (what heartbeats cost
 * as such, as control frames and as the data frames Herald's wire uses).
 */
export const NODE_SYSTEMS: readonly NodeSystem[] = ['raw-ws-string', 'raw-ws-ping', 'raw-ws-textping', 'herald'];

export interface NodeRow {
  readonly system: NodeSystem;
  readonly connections: number;
  /** Server CPU to accept one client's connection and subscription, µs. */
  readonly connectCpuUsPerClient: number;
  readonly idle: {
    readonly windowMs: number;
    /** Server CPU while idle, percent of one core, scaled to 10,000 connections. */
    readonly cpuPercentPer10k: number;
    /** Heartbeat answers (PONGs) the server received per second, scaled to 10,000 connections; null (or absent, in results saved before it was counted) where it does not count them. */
    readonly pairsPerSecPer10k?: number | null;
    /** The first round's window. */
    readonly loop: LoopDelay;
    /** `cpuPercentPer10k` of each round, in order (absent in results saved before rounds were measured); the row's figure is their median. */
    readonly rounds?: readonly number[];
    /** Full collections (mark-compacts) inside each round's window, in order (absent in results saved before they were counted). */
    readonly majorGcs?: readonly number[];
  };
  readonly broadcast: {
    readonly count: number;
    readonly windowMs: number;
    /** Server CPU over each broadcast's window (publish, fan-out, and whatever else runs), ms: the mean over the broadcasts. */
    readonly cpuMs: number;
    /** `cpuMs` less what the idle window's CPU rate (heartbeats) would have cost over the same time: the broadcast's own cost. */
    readonly cpuMsOverIdle: number;
    /** Over all the broadcasts' windows. */
    readonly loop: LoopDelay;
    /** Deliveries the load generator counted per broadcast (mean); should equal `connections`. */
    readonly delivered: number;
  };
}

/** Broadcasts measured, one window each. */
const BROADCASTS = 3;
const SETTLE_MS = 2_000;
/**
 * V8 options of the servers. Without the memory reducer: it runs up to three
 * full collections of the whole heap 8 to 24 s or more after connecting grew
 * it (each ~0.25 points of the idle figure per 10k, more than the systems
 * differ by), landing inside or outside a system's idle window by chance; a
 * node at rest for hours has long finished them. Collections forced by
 * allocation (heartbeats') still run and are counted.
 */
const SERVER_NODE_OPTIONS = ['--no-memory-reducer'];
/** The idle window starts once the server has run no full collection for this long (connecting's own have finished). */
export const GC_QUIET_MS = 10_000;
/** Gives up waiting for the quiet after this long (the window then counts what runs). */
export const GC_QUIET_MAX_MS = 60_000;
const CONNECT_CONCURRENCY = 100;

const cpuUs = (stats: ServerStats) => stats.cpu.userUs + stats.cpu.systemUs;

/** The idle figure of one session. */
interface IdleWindow {
  readonly windowMs: number;
  readonly cpuPercentPer10k: number;
  readonly pairsPerSecPer10k: number | null;
  readonly loop: LoopDelay;
  readonly majorGcs: number;
}

/** A session's figures: the idle window's, and with the broadcasts the rest of its row. */
interface NodeSession {
  readonly row: Omit<NodeRow, 'idle'> | null;
  readonly idle: IdleWindow;
}

/** The systems the idle ratios compare, measured again (connect and idle only) in every round after the first. */
const IDLE_ROUND_SYSTEMS: readonly NodeSystem[] = ['raw-ws-string', 'raw-ws-ping', 'herald'];

/**
 * Scenario: one node at its limits. `connections` clients connect and each
 * subscribes to one room (connect-plus-subscribe CPU per client), stay idle
 * for `idleMs` with the server's default heartbeats (CPU, event-loop delay
 * and full collections; the servers run without V8's memory reducer and the
 * window opens once connecting's collections have finished, see
 * `SERVER_NODE_OPTIONS`), then the room gets `BROADCASTS` broadcasts, each
 * measured over `broadcastMs` (CPU, event-loop delay: how long the fan-out
 * held the loop).
 * Herald against a bare `ws` server with no heartbeats, and against bare
 * `ws` with heartbeats at Herald's rate (`NODE_SYSTEMS`), in the same run;
 * the idle window also counts the heartbeat answers each server received,
 * for the CPU per PING/PONG pair (`cpuUsPerPair`).
 *
 * A system's idle CPU is a few tenths of a percent of a core apart from the
 * next one's, less than the machine drifts over the minutes between them:
 * the idle window is measured in `idleRounds` rounds, each with its own
 * connections, the systems of `IDLE_ROUND_SYSTEMS` in a rotated order each
 * round, and a row's idle figures are the medians over its rounds (the
 * first round's session also measures connect and broadcast).
 */
export async function runNode(
  config: SuiteConfig,
  options: { systems?: readonly NodeSystem[]; cpuProfDir?: string | undefined } = {},
): Promise<NodeRow[]> {
  const systems = options.systems ?? NODE_SYSTEMS;
  const { idleRounds } = config.node;
  const firsts = new Map<NodeSystem, Omit<NodeRow, 'idle'>>();
  const idles = new Map<NodeSystem, IdleWindow[]>(systems.map((system) => [system, []]));
  for (const system of systems) {
    const { row, idle } = await nodeSession(config, system, true, options.cpuProfDir);
    if (row) firsts.set(system, row);
    idles.get(system)!.push(idle);
  }
  const again = IDLE_ROUND_SYSTEMS.filter((system) => systems.includes(system));
  for (let round = 1; round < idleRounds && again.length > 1; round++) {
    const order = again.map((_, i) => again[(i + round) % again.length]!);
    for (const system of order) idles.get(system)!.push((await nodeSession(config, system, false, options.cpuProfDir)).idle);
  }
  const rows: NodeRow[] = systems.map((system) => {
    const row = firsts.get(system)!;
    const windows = idles.get(system)!;
    const pairs = windows.map((w) => w.pairsPerSecPer10k).filter((p): p is number => p !== null);
    return {
      ...row,
      idle: {
        windowMs: windows[0]!.windowMs,
        cpuPercentPer10k: median(windows.map((w) => w.cpuPercentPer10k)),
        pairsPerSecPer10k: pairs.length > 0 ? median(pairs) : null,
        loop: windows[0]!.loop,
        rounds: windows.map((w) => w.cpuPercentPer10k),
        majorGcs: windows.map((w) => w.majorGcs),
      },
    };
  });
  const [bare, herald] = [rows.find((row) => row.system === 'raw-ws-string'), rows.find((row) => row.system === 'herald')];
  const barePings = rows.filter((row) => row.system === 'raw-ws-ping' || row.system === 'raw-ws-textping');
  if (bare && herald) for (const line of nodeRatioLines(herald, bare, barePings)) log(`  ${line}`);
  return rows;
}

/**
 * One system's session: its server and `connections` subscribed clients,
 * the idle window, and with `broadcasts` the connect and broadcast figures.
 */
async function nodeSession(
  config: SuiteConfig,
  system: NodeSystem,
  broadcasts: boolean,
  cpuProfDir: string | undefined,
): Promise<NodeSession> {
  const { connections: count, idleMs, broadcastMs } = config.node;
  return withProcesses(async (track): Promise<NodeSession> => {
    const server = track(await ServerProcess.start({ system, port: 0 }, { cpuProfDir, nodeOptions: SERVER_NODE_OPTIONS }));
    const loadgen = track(await LoadgenProcess.start());
    if (loadgen.nofile !== null && loadgen.nofile < count + 100) {
      log(`  WARNING: the load generator may open only ${loadgen.nofile} files; ${count} connections will fail`);
    }
    await server.ipc.request('loopDelay', null);
    await sleep(SETTLE_MS);

    const beforeConnect = await server.stats(false);
    const connected = await loadgen.ipc.request(
      'connect',
      { kind: subscriberKindOf(system), urls: [server.url], count, subscribe: true, concurrency: CONNECT_CONCURRENCY, reconnect: null },
      600_000,
    );
    const afterConnect = await server.stats(false);
    if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${count} clients of ${system} failed to connect and subscribe`);
    const n = connected.connected;

    const quiet = await server.ipc.request('settle', { quietMs: GC_QUIET_MS, maxMs: GC_QUIET_MAX_MS }, GC_QUIET_MAX_MS + 10_000);
    await server.ipc.request('loopDelay', null);
    const idleStart = await server.stats(false);
    await sleep(idleMs);
    const idleEnd = await server.stats(false);
    const idleLoop = await server.ipc.request('loopDelay', null);
    const idleWindowMs = idleEnd.cpu.atMs - idleStart.cpu.atMs;
    const idleCpuMsPerMs = (cpuUs(idleEnd) - cpuUs(idleStart)) / 1000 / idleWindowMs;
    const idlePairs = idleEnd.framesIn !== null && idleStart.framesIn !== null ? idleEnd.framesIn - idleStart.framesIn : null;
    const idle: IdleWindow = {
      windowMs: idleWindowMs,
      cpuPercentPer10k: (idleCpuMsPerMs * 100 * 10_000) / n,
      pairsPerSecPer10k: idlePairs === null ? null : (idlePairs * 1000 * 10_000) / idleWindowMs / n,
      loop: idleLoop,
      majorGcs: (idleEnd.majorGcs ?? 0) - (idleStart.majorGcs ?? 0),
    };
    const idleLine =
      `idle ${fmt(idle.cpuPercentPer10k, 2)}% of a core per 10k (${idle.pairsPerSecPer10k === null ? 'no' : fmt(idle.pairsPerSecPer10k, 0)} heartbeat answers/s per 10k), ` +
      `loop delay p99 ${fmt(idleLoop.p99Ms, 1)} ms max ${fmt(idleLoop.maxMs, 1)} ms, ${idle.majorGcs} full GCs ` +
      `(started ${fmt(quiet.waitedMs / 1000, 0)} s after connecting${quiet.settled ? '' : `, no ${GC_QUIET_MS / 1000} s without a full GC within ${GC_QUIET_MAX_MS / 1000} s`})`;
    if (!broadcasts) {
      log(`node ${system} (idle round): ${n} clients: ${idleLine}`);
      await loadgen.ipc.request('closeAll', null);
      return { row: null, idle };
    }

    let cpuMs = 0;
    let windowMs = 0;
    let delivered = 0;
    await server.ipc.request('loopDelay', null);
    for (let i = 0; i < BROADCASTS; i++) {
      await loadgen.ipc.request('reset', { creditStep: 0 });
      await loadgen.ipc.request('snapshot', { startRun: true });
      const before = await server.stats(false);
      await server.ipc.request('publish', { mode: 'burst', count: 1 });
      await sleep(broadcastMs);
      const after = await server.stats(false);
      const snapshot = await loadgen.ipc.request('snapshot', { startRun: false });
      cpuMs += (cpuUs(after) - cpuUs(before)) / 1000 / BROADCASTS;
      windowMs += (after.cpu.atMs - before.cpu.atMs) / BROADCASTS;
      delivered += snapshot.events / BROADCASTS;
    }
    const broadcastLoop = await server.ipc.request('loopDelay', null);
    const row: Omit<NodeRow, 'idle'> = {
      system,
      connections: n,
      connectCpuUsPerClient: (cpuUs(afterConnect) - cpuUs(beforeConnect)) / n,
      broadcast: {
        count: BROADCASTS,
        windowMs,
        cpuMs,
        cpuMsOverIdle: cpuMs - idleCpuMsPerMs * windowMs,
        loop: broadcastLoop,
        delivered,
      },
    };
    log(
      `node ${system}: ${n} clients: connect+subscribe ${fmt(row.connectCpuUsPerClient, 0)} µs CPU each; ${idleLine}; ` +
        `broadcast ${fmt(cpuMs, 0)} ms CPU (${fmt(row.broadcast.cpuMsOverIdle, 0)} ms over idle), loop delay p99 ${fmt(broadcastLoop.p99Ms, 1)} ms max ${fmt(broadcastLoop.maxMs, 1)} ms, ` +
        `${fmt(delivered, 0)} delivered`,
    );
    await loadgen.ipc.request('closeAll', null);
    return { row, idle };
  });
}

/**
 * Herald's idle CPU over `other`'s, round by round (the rounds of one index
 * ran minutes apart at most): the median and range of the ratios, or null
 * when either has no rounds to pair.
 */
export function idleRoundRatios(herald: NodeRow, other: NodeRow): { value: number; min: number; max: number; rounds: number } | null {
  const a = herald.idle.rounds ?? [herald.idle.cpuPercentPer10k];
  const b = other.idle.rounds ?? [other.idle.cpuPercentPer10k];
  const ratios = a.slice(0, b.length).map((value, i) => value / b[i]!);
  if (ratios.length === 0) return null;
  return { value: median(ratios), ...range(ratios), rounds: ratios.length };
}

/**
 * Server CPU per heartbeat PING/PONG pair while idle, µs: `row`'s idle CPU
 * over bare ws's without heartbeats (the floor), per answer received; null
 * when `row` does not count its answers or got none.
 */
export function cpuUsPerPair(row: NodeRow, bare: NodeRow): number | null {
  const pairs = row.idle.pairsPerSecPer10k;
  if (pairs == null || pairs <= 0) return null;
  // 1% of a core is 10,000 µs of CPU per second.
  return ((row.idle.cpuPercentPer10k - bare.idle.cpuPercentPer10k) * 10_000) / pairs;
}

/** Herald against bare ws (and against bare ws's own heartbeats, when measured), one line per figure. */
export function nodeRatioLines(herald: NodeRow, bare: NodeRow, barePings: readonly NodeRow[] = []): string[] {
  const ratio = (a: number, b: number) => (b > 0 ? `${fmt(a / b, 2)}x` : 'n/a');
  const heraldPair = cpuUsPerPair(herald, bare);
  const pingRow = barePings.find((row) => row.system === 'raw-ws-ping');
  const pingRounds = pingRow ? idleRoundRatios(herald, pingRow) : null;
  const pairLines =
    heraldPair === null
      ? []
      : [
          `idle CPU per heartbeat PING/PONG pair (over bare ws without heartbeats): Herald ${fmt(heraldPair, 1)} µs at ${fmt(herald.idle.pairsPerSecPer10k ?? 0, 0)} pairs/s per 10k`,
          ...barePings.map((row) => {
            const pair = cpuUsPerPair(row, bare);
            const how = row.system === 'raw-ws-ping' ? 'ws.ping()' : "text PING (tRPC's)";
            return pair === null
              ? `bare ws with ${how}: no pairs counted`
              : `  vs bare ws with ${how}: ${fmt(pair, 1)} µs (Herald ${ratio(heraldPair, pair)}) at ${fmt(row.idle.pairsPerSecPer10k ?? 0, 0)} pairs/s per 10k, idle ${fmt(row.idle.cpuPercentPer10k, 2)}% of a core per 10k`;
          }),
        ];
  return [
    `connect+subscribe CPU per client: ${fmt(herald.connectCpuUsPerClient, 0)} µs vs ${fmt(bare.connectCpuUsPerClient, 0)} µs (${ratio(herald.connectCpuUsPerClient, bare.connectCpuUsPerClient)})`,
    `idle CPU per 10k connections: ${fmt(herald.idle.cpuPercentPer10k, 2)}% vs ${fmt(bare.idle.cpuPercentPer10k, 2)}% of a core`,
    ...pairLines,
    ...(pingRounds ? [`idle CPU vs bare ws with ws.ping(), round by round: Herald ${fmt(pingRounds.value, 2)}x (median of ${pingRounds.rounds}, ${fmt(pingRounds.min, 2)}–${fmt(pingRounds.max, 2)})`] : []),
    `idle loop delay max: ${fmt(herald.idle.loop.maxMs, 1)} ms vs ${fmt(bare.idle.loop.maxMs, 1)} ms (p99 ${fmt(herald.idle.loop.p99Ms, 1)} vs ${fmt(bare.idle.loop.p99Ms, 1)})`,
    `broadcast CPU over its window: ${fmt(herald.broadcast.cpuMs, 0)} ms vs ${fmt(bare.broadcast.cpuMs, 0)} ms (${ratio(herald.broadcast.cpuMs, bare.broadcast.cpuMs)}); ` +
      `over idle: ${fmt(herald.broadcast.cpuMsOverIdle, 0)} ms vs ${fmt(bare.broadcast.cpuMsOverIdle, 0)} ms (${ratio(herald.broadcast.cpuMsOverIdle, bare.broadcast.cpuMsOverIdle)})`,
    `broadcast loop delay max: ${fmt(herald.broadcast.loop.maxMs, 1)} ms vs ${fmt(bare.broadcast.loop.maxMs, 1)} ms (p99 ${fmt(herald.broadcast.loop.p99Ms, 1)} vs ${fmt(bare.broadcast.loop.p99Ms, 1)})`,
  ];
}
