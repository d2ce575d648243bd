/**
 * What the chat web app's Chromium tests share: Debian's Chromium and the
 * app built with the package's Vite (both through `@herald/test-kit/browser`),
 * and reading the page the way a person does (by labels and roles).
 *
 * Chromium: `apt-get install chromium` (.ci/run does it). Without it the
 * suites fail in CI and are skipped locally, with the reason printed.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium as launchChromiumOf, viteBuild } from '@herald/test-kit/browser';

export const WEB_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const ARTIFACTS = resolve(WEB_ROOT, '../../test-artifacts');
/** Bounds: each file stays well under a minute or two. */
export const BUILD_TIMEOUT_MS = 60_000;
export const UI_TIMEOUT_MS = 10_000;
export const RECOVERY_TIMEOUT_MS = 15_000;

export { missingChromium, skipBrowserTests } from '@herald/test-kit/browser';

export function launchChromium(): Promise<Browser> {
  return launchChromiumOf(UI_TIMEOUT_MS);
}

/**
 * A page in a fresh context (its own storage: one person, one device) of
 * `viewport` size; its script errors are collected in `pageErrors`, tagged
 * with the width.
 */
export async function openPage(browser: Browser | null, viewport: { width: number; height: number }, pageErrors: string[]): Promise<Page> {
  if (!browser) throw new Error('browser not started');
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  page.on('pageerror', (error) => pageErrors.push(`${viewport.width}px: ${error.message}`));
  return page;
}

/** Builds the app with the package's Vite into `outDir`. */
export function buildWebApp(outDir: string): Promise<void> {
  return viteBuild(WEB_ROOT, ['--outDir', outDir, '--emptyOutDir'], BUILD_TIMEOUT_MS);
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
