/** Finding the programs some tests need (redis-server, haproxy). */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { IN_CI } from './root.js';

/** The path of `name` on PATH (or in the sbin directories Debian puts daemons in), or null. */
export function findExecutable(name: string): string | null {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Finds a tool a test needs. Locally a missing tool skips the test, and this
 * prints why; in CI tests never skip, so the test runs and fails on it
 * (`.ci/run` installs the tools).
 */
export function findTool(name: string, why: string): string | null {
  const path = findExecutable(name);
  if (!path && !IN_CI) console.warn(`[tests] ${name} is not installed: ${why} is SKIPPED (apt-get install ${name})`);
  return path;
}

/** The tool `findTool` found, or the CI failure for a missing one. */
export function toolOrFail(path: string | null, name: string): string {
  if (!path) throw new Error(`${name} is not installed, and CI must not skip the test that needs it (.ci/run installs it)`);
  return path;
}
