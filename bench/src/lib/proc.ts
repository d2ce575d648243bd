import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

/** The repository root: children run from here. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * How every bench process runs TypeScript: Herald from source (`herald-source`)
 * through the bench's own esbuild hooks, which unlike tsx do not add
 * `keepNames` wrappers to every closure (see bench/loader/hooks.mjs).
 */
export const TS_NODE_ARGS = ['--conditions=herald-source', '--import', fileURLToPath(new URL('../../loader/register.mjs', import.meta.url))];

/** Cores the bench pins to: the server on one, the load generator (and this orchestrator) on the other. */
export const SERVER_CORE = 0;
export const LOADGEN_CORE = 1;

let pinning: { available: boolean; reason: string } | null = null;

/** Whether processes can be pinned (taskset present, two cores); warns once when not. */
export function pinningStatus(): { available: boolean; reason: string } {
  if (pinning) return pinning;
  if (cpus().length < 2) {
    pinning = { available: false, reason: `only ${cpus().length} core(s)` };
  } else if (spawnSync('taskset', ['-c', String(LOADGEN_CORE), 'true'], { stdio: 'ignore' }).status !== 0) {
    pinning = { available: false, reason: 'taskset (util-linux) is not available' };
  } else {
    pinning = { available: true, reason: `server on core ${SERVER_CORE}, load generator on core ${LOADGEN_CORE}` };
  }
  if (!pinning.available) {
    console.warn(`[bench] WARNING: processes are not pinned to cores (${pinning.reason}); server and load generator compete for CPU and figures are noisier`);
  }
  return pinning;
}

/** Pins this process (the orchestrator) beside the load generator, off the server's core. */
export function pinSelf(core: number): void {
  if (!pinningStatus().available) return;
  spawnSync('taskset', ['-cp', String(core), String(process.pid)], { stdio: 'ignore' });
}

export interface SpawnOptions {
  /** Core to pin to, or null for none. */
  readonly core: number | null;
  /** Open-file limit to ask for (bounded by what the system allows). */
  readonly nofile: number;
  /** Directory for `--cpu-prof` output, if profiling. */
  readonly cpuProfDir?: string | undefined;
  /** A command Node runs under (valgrind, say); it must keep Node's pid and pass the IPC descriptor on. */
  readonly wrapper?: readonly string[] | undefined;
  /** More Node and V8 options for the child. */
  readonly nodeOptions?: readonly string[] | undefined;
}

/**
 * Starts a TypeScript entry in a child Node process with an IPC channel:
 * through bash (to raise `ulimit -n`) and taskset (to pin), both of which
 * exec, so the child's pid is Node's own.
 */
export function spawnBenchProcess(entry: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const nodeArgs = ['--expose-gc', ...(options.nodeOptions ?? []), ...TS_NODE_ARGS];
  if (options.cpuProfDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
  let command = [...(options.wrapper ?? []), process.execPath, ...nodeArgs, entry, ...args];
  if (options.core !== null && pinningStatus().available) command = ['taskset', '-c', String(options.core), ...command];
  const raiseLimit = `ulimit -n ${options.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
  return spawn('bash', ['-c', raiseLimit, 'bench', ...command], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production' },
  });
}

/** Ends a child: closes its IPC channel (it exits by itself), then SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 3_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.connected) child.disconnect();
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}

/** The first line of a /proc file that starts with `prefix`, without it; null where there is none (or no /proc). */
function procLine(path: string, prefix: string): string | null {
  try {
    const line = readFileSync(path, 'utf8')
      .split('\n')
      .find((row) => row.startsWith(prefix));
    return line === undefined ? null : line.slice(prefix.length);
  } catch {
    return null;
  }
}

/** This process's soft open-file limit, from /proc (null where there is none). */
export function openFileLimit(): number | null {
  const soft = procLine('/proc/self/limits', 'Max open files')?.trim().split(/\s{2,}/)[0];
  return soft === undefined || soft === 'unlimited' ? null : Number(soft);
}

/** Write-type system calls (write, writev) a process has made so far, from /proc/<pid>/io, or null. */
export function writeSyscalls(pid: number | 'self'): number | null {
  const count = procLine(`/proc/${pid}/io`, 'syscw:');
  return count === null ? null : Number(count);
}

/** CPU time (ms) a process has used so far, from /proc/<pid>/stat, or null. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces): state is field 3; utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS : null;
  } catch {
    return null;
  }
}

const CLOCK_TICKS = (() => {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const value = Number(result.stdout?.trim());
  return Number.isFinite(value) && value > 0 ? value : 100;
})();

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
