/**
 * What the admin page's browser test needs: Debian's Chromium (as the chat
 * web app's tests launch it: examples/chat-web/test/helpers/browser.ts), and
 * the page built into @herald/server's dist-admin/ with this package's Vite,
 * the directory the server serves it from.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

const UI_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Screenshots the test keeps (git-ignored). */
export const ARTIFACTS = resolve(UI_ROOT, '../../test-artifacts');
export const BUILD_TIMEOUT_MS = 60_000;
export const UI_TIMEOUT_MS = 10_000;

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
/** Why the browser test cannot run here, or null when Chromium was found. */
export const missingChromium = chromiumPath ? null : 'Chromium not found (install it with `apt-get install -y chromium`, or set CHROMIUM_PATH)';
/** Skip: no Chromium, outside CI (in CI, `beforeAll` throws `missingChromium` instead). */
export const skipBrowserTests = missingChromium !== null && !process.env['CI'];

export function launchChromium(): Promise<Browser> {
  if (missingChromium) throw new Error(missingChromium);
  return chromium.launch({ executablePath: chromiumPath ?? undefined, headless: true, args: CHROMIUM_FLAGS, timeout: UI_TIMEOUT_MS });
}

/** Builds the page into packages/server/dist-admin (what `pnpm build` does), so a clean clone tests the page it ships. */
export function buildAdminPage(): Promise<void> {
  const vite = join(UI_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [vite, 'build', '--logLevel', 'warn'],
      { cwd: UI_ROOT, timeout: BUILD_TIMEOUT_MS, env: { ...process.env, NODE_ENV: 'production' } },
      (error, _stdout, stderr) => (error ? fail(new Error(`vite build failed: ${stderr || error.message}`, { cause: error })) : done()),
    );
  });
}
