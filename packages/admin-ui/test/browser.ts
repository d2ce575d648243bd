/**
 * What the admin page's browser test needs: Debian's Chromium (through
 * `@herald/test-kit/browser`, as every Chromium test launches it), and
 * the page built into @herald/server's dist-admin/ with this package's Vite,
 * the directory the server serves it from.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { launchChromium as launchChromiumOf, viteBuild } from '@herald/test-kit/browser';

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
