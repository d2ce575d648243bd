/**
 * What the admin page's browser test needs: Debian's Chromium (through
 * `@herald/test-kit/browser`, as every Chromium test launches it), and
 * the page built into @herald/server's dist-admin/ with this package's Vite,
 * the directory the server serves it from.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect } from 'vitest';
import { axeViolations } from '@herald/test-kit/axe';
import { launchChromium as launchChromiumOf, missingChromium, viteBuild } from '@herald/test-kit/browser';

const UI_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Screenshots the test keeps (git-ignored). */
export const ARTIFACTS = resolve(UI_ROOT, '../../test-artifacts');
export const BUILD_TIMEOUT_MS = 60_000;
export const UI_TIMEOUT_MS = 10_000;

export { missingChromium, skipBrowserTests } from '@herald/test-kit/browser';

export function launchChromium(): Promise<Browser> {
  return launchChromiumOf(UI_TIMEOUT_MS);
}

/** Builds the page into packages/server/dist-admin (what `pnpm build` does), so a clean clone tests the page it ships. */
export function buildAdminPage(): Promise<void> {
  return viteBuild(UI_ROOT, [], BUILD_TIMEOUT_MS);
}

/** A page in a context of its own at `viewport`, with reduced motion and the UI timeout. */
export async function openPage(browser: Browser | null, viewport: { width: number; height: number }): Promise<Page> {
  if (!browser) throw new Error('browser not started');
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  return page;
}

/** No axe violation in light or dark, with a full-page screenshot of each in `shots`. */
export async function checkPage(page: Page, shots: string, state: string): Promise<void> {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const width = page.viewportSize()?.width ?? 0;
    await page.screenshot({ path: join(shots, `${state}-${width}-${colorScheme}.png`), fullPage: true });
    expect(await axeViolations(page), `${state}, ${width}px, ${colorScheme}`).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** A laptop and a phone: the sizes every state of the page is checked at. */
export const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

/**
 * The browser of one suite (call inside its `describe`): the page built and
 * Chromium launched before its tests, closed after; pages at a viewport, and
 * the axe check with screenshots in `shots`.
 */
export function pageSession(shots: string): {
  newPage(viewport: { width: number; height: number }): Promise<Page>;
  check(page: Page, state: string): Promise<void>;
} {
  let browser: Browser | null = null;
  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium); // CI: a missing browser fails the run
    await buildAdminPage();
    browser = await launchChromium();
    mkdirSync(shots, { recursive: true });
  }, BUILD_TIMEOUT_MS + 20_000);
  afterAll(async () => {
    await browser?.close();
  });
  return { newPage: (viewport) => openPage(browser, viewport), check: (page, state) => checkPage(page, shots, state) };
}
