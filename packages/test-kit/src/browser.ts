/**
 * What every Chromium test shares (`@herald/test-kit/browser`, apart from the
 * main entry so that other tests do not load playwright-core): Debian's
 * Chromium found and launched with the flags this machine needs, and a
 * package's page built with its own Vite.
 *
 * Chromium: `apt-get install chromium` (.ci/run does it). Without it the
 * suites fail in CI and are skipped locally, with the reason printed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { IN_CI } from './root.js';

/** Without background networking and QUIC, Chromium stays off this closed network. */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function findChromium(): string | null {
  for (const candidate of [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

const chromiumPath = findChromium();
/** Why the browser tests cannot run here, or null when Chromium was found. */
export const missingChromium = chromiumPath ? null : 'Chromium not found (install it with `apt-get install -y chromium`, or set CHROMIUM_PATH)';
/** Skip the suite: no Chromium, outside CI (in CI, `beforeAll` throws `missingChromium` instead). */
export const skipBrowserTests = missingChromium !== null && !IN_CI;

/** Debian's Chromium, headless, never a browser a tool downloads. */
export function launchChromium(timeoutMs: number): Promise<Browser> {
  if (missingChromium) throw new Error(missingChromium);
  return chromium.launch({ executablePath: chromiumPath ?? undefined, headless: true, args: CHROMIUM_FLAGS, timeout: timeoutMs });
}

/** `vite build` with the Vite installed in package `root`, in production mode, bounded by `timeoutMs`. */
export function viteBuild(root: string, args: readonly string[], timeoutMs: number): Promise<void> {
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [vite, 'build', ...args, '--logLevel', 'warn'],
      { cwd: root, timeout: timeoutMs, env: { ...process.env, NODE_ENV: 'production' } },
      (error, _stdout, stderr) => (error ? fail(new Error(`vite build failed: ${stderr || error.message}`, { cause: error })) : done()),
    );
  });
}
