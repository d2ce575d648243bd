import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pinningStatus, ROOT } from '../lib/proc.js';

export interface Environment {
  readonly date: string;
  readonly commit: string;
  readonly node: string;
  readonly versions: Record<string, string>;
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly pinning: string;
  readonly loadAverage: string;
}

const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));

/** Versions of the packages the bench actually loads (its own node_modules). */
function versionOf(name: string): string {
  try {
    return (JSON.parse(readFileSync(`${BENCH_DIR}node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function git(args: string[]): string | null {
  const result = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

export function readEnvironment(): Environment {
  const head = git(['rev-parse', '--short=12', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no']);
  const commit = head === null ? 'unknown (not a git checkout)' : `${head}${dirty ? ' (with uncommitted changes)' : ''}`;
  let cpuModel = 'unknown';
  try {
    cpuModel = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    // not Linux
  }
  const pinning = pinningStatus();
  return {
    date: new Date().toISOString(),
    commit,
    node: process.version,
    versions: Object.fromEntries(
      ['ws', '@trpc/server', '@trpc/client', 'socket.io', 'socket.io-client', 'superjson', 'zod', 'ioredis'].map((name) => [name, versionOf(name)]),
    ),
    cpuModel,
    // The machine's cores, not this process's affinity (the orchestrator pins itself).
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    pinning: pinning.available ? `taskset: ${pinning.reason}` : `NOT pinned: ${pinning.reason}`,
    loadAverage: loadavg()
      .map((value) => value.toFixed(2))
      .join(' '),
  };
}
