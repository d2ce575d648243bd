/**
 * The admin page held to WCAG 2.1 A/AA and axe's best practices in
 * Chromium, on each state an operator meets: the token form (the caret
 * starts in it), a refused token, the live dashboard, and the dashboard
 * while its link is down (status kept in view, figures marked stale); in
 * light and dark, at 1280x800 and 390x844. One node on the in-memory
 * broker. Screenshots go to test-artifacts/admin-a11y/.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFaultProxy } from '@herald/server/testing';
import { Cleanup, numbersClient, startAdminNode, subscribeNumbers } from '@herald/test-kit';
import { ARTIFACTS, missingChromium, pageSession, skipBrowserTests, VIEWPORTS } from './browser.js';

const TOKEN = 'admin-a11y-test-token-0123456789';
const SHOTS = join(ARTIFACTS, 'admin-a11y');

if (skipBrowserTests) console.warn(`[admin page a11y test] skipped: ${missingChromium}`);

describe.skipIf(skipBrowserTests)('admin page: accessibility in Chromium', () => {
  const { newPage, check } = pageSession(SHOTS);

  for (const viewport of VIEWPORTS) {
    it(`token form, refused token, live dashboard and a dropped link at ${viewport.width}px`, async () => {
      await using cleanup = new Cleanup();
      const node = cleanup.add(await startAdminNode({ nodeId: 'node-one', token: TOKEN }));
      const proxy = cleanup.add(await createFaultProxy({ target: { port: node.server.port } }));
      for (let i = 0; i < 3; i++) {
        const client = cleanup.add(numbersClient('herald', node.server.url, { name: `user-${i}` }));
        const subscription = subscribeNumbers(client, 'busy');
        cleanup.defer(() => subscription.unsubscribe());
        await subscription.waitForLive();
      }
      const page = await newPage(viewport);
      cleanup.defer(() => page.context().close());
      await page.goto(proxy.url('/admin/').replace(/^ws:/, 'http:'));

      // The caret starts in the token field.
      const field = page.getByLabel('Admin token');
      await expect.poll(() => field.evaluate((element) => element === document.activeElement)).toBe(true);
      await check(page, 'sign-in');

      await page.keyboard.type('not-the-token');
      await page.keyboard.press('Enter');
      await page.getByRole('alert').waitFor();
      await check(page, 'refused');

      // Keyboard only: the field, Enter.
      await field.fill(TOKEN);
      await field.press('Enter');
      await page.locator('[role="status"][data-connection="open"]').waitFor();
      await page.locator('tr[data-topic="numbers:busy"]').waitFor();
      await check(page, 'dashboard');
      // Charts over 15 minutes with axes, units and the event-loop and memory levels.
      const loop = page.locator('figure[data-chart="Event-loop delay (p99, slowest node)"]');
      // The level depends on this machine's load; whatever it is, a level other than ok is said in words.
      const level = await loop.getAttribute('data-level');
      expect(level).toMatch(/^(ok|warning|critical)$/);
      if (level !== 'ok') expect(await loop.locator('figcaption').textContent()).toContain(level);
      expect(await loop.locator('svg').textContent()).toMatch(/ms.*0 ms.*−15 min.*now/);
      await page.locator('figure[data-chart="Memory (RSS, largest node)"]').waitFor();

      // Browse a node's connections, then find users by the start of their key.
      await page.getByRole('button', { name: 'Browse node-one' }).click();
      const browsed = page.getByRole('table', { name: 'Connections matching node-one/' }).locator('tbody tr');
      await expect.poll(() => browsed.count()).toBe(3);
      await page.getByLabel('Name, user key or connection id').fill('USER-');
      await page.getByRole('button', { name: 'Look up' }).click();
      const byPrefix = page.getByRole('table', { name: 'Connections matching USER-' }).locator('tbody tr');
      await expect.poll(() => byPrefix.count()).toBe(3);
      expect(await byPrefix.first().locator('td[data-column="user"]').textContent()).toMatch(/^user-\d$/);
      await check(page, 'lookup');

      // The link drops: the status says so and stays in view when scrolled; the figures are marked stale.
      proxy.refuse();
      proxy.cutAll();
      const status = page.locator('[role="status"][data-connection="reconnecting"]');
      await status.waitFor();
      expect(await status.textContent()).toMatch(/figures below are from \d\d:\d\d:\d\d, before the link dropped/);
      await page.locator('[data-stale]').waitFor();
      await page.mouse.wheel(0, 2_000);
      await page.waitForFunction(() => window.scrollY > 0);
      const box = await status.boundingBox();
      expect(box?.y ?? -1).toBeGreaterThanOrEqual(0);
      expect(box?.y ?? 1_000).toBeLessThan(10);
      await check(page, 'reconnecting');

      proxy.accept();
      await page.locator('[role="status"][data-connection="open"]').waitFor({ timeout: 20_000 });
      await page.locator('[data-stale]').waitFor({ state: 'detached' });
    }, 60_000);
  }
});
