/**
 * What the chat web app's Chromium tests share: finding Debian's Chromium,
 * launching it with the same flags, building the app with the package's
 * Vite, and reading the page the way a person does (by labels and roles).
 *
 * Chromium: `apt-get install chromium` (.ci/run does it). Without it the
 * suites fail in CI and are skipped locally, with the reason printed.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

export const WEB_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ARTIFACTS = resolve(WEB_ROOT, '../../test-artifacts');
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Bounds: each file stays well under a minute or two. */
export const BUILD_TIMEOUT_MS = 60_000;
export const UI_TIMEOUT_MS = 10_000;
export const RECOVERY_TIMEOUT_MS = 15_000;

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
export const skipBrowserTests = missingChromium !== null && !process.env['CI'];

export function launchChromium(): Promise<Browser> {
  if (missingChromium) throw new Error(missingChromium);
  return chromium.launch({ executablePath: chromiumPath ?? undefined, headless: true, args: CHROMIUM_FLAGS, timeout: UI_TIMEOUT_MS });
}

/** Builds the app with the package's Vite into `outDir`. */
export function buildWebApp(outDir: string): Promise<void> {
  const vite = join(WEB_ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
      { cwd: WEB_ROOT, timeout: BUILD_TIMEOUT_MS, env: { ...process.env, NODE_ENV: 'production' } },
      (error, _stdout, stderr) => (error ? fail(new Error(`vite build failed: ${stderr || error.message}`, { cause: error })) : done()),
    );
  });
}

const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Settled messages (confirmed by the server) whose text is exactly `text`. */
export const messagesWithText = (page: Page, text: string): Locator =>
  page.locator('[data-message-id] .message__text').filter({ hasText: exactly(text) });
export const membersPanel = (page: Page): Locator => page.getByRole('complementary', { name: /In this room/ });
/** The connection banner: a live region that is always in the page (hidden while there is nothing to say). */
export const banner = (page: Page): Locator => page.locator('[role="status"][data-connection]');

export async function expectCount(locator: Locator, count: number, timeout = UI_TIMEOUT_MS): Promise<void> {
  await expect.poll(() => locator.count(), { timeout, interval: 100 }).toBe(count);
}

export async function logIn(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Join' }).click();
  await page.getByLabel('Message').waitFor({ timeout: UI_TIMEOUT_MS });
}

export async function send(page: Page, text: string): Promise<void> {
  await page.getByLabel('Message').fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** The session token the page keeps (sessionStorage), or null when signed out. */
export async function storedToken(page: Page): Promise<string | null> {
  const raw = await page.evaluate(() => sessionStorage.getItem('herald-chat:session'));
  return raw ? (JSON.parse(raw) as { token: string }).token : null;
}

/** Ann on a laptop and Bob on a phone: the two viewports the browser tests chat in. */
export const LAPTOP = { width: 1200, height: 760 } as const;
export const PHONE = { width: 390, height: 760 } as const;

/** Ann (laptop) and Bob (phone) signed in at `url`, each seeing the other in the room. */
export async function annAndBob(
  newPage: (viewport: { width: number; height: number }) => Promise<Page>,
  url: string,
): Promise<{ ann: Page; bob: Page }> {
  const ann = await newPage(LAPTOP);
  const bob = await newPage(PHONE);
  await logIn(ann, url, 'Ann');
  await logIn(bob, url, 'Bob');
  await membersPanel(ann).getByText('Bob', { exact: true }).waitFor();
  await membersPanel(bob).getByText('Ann', { exact: true }).waitFor();
  return { ann, bob };
}
