/**
 * The admin page in Chromium against two Herald nodes sharing Redis: it
 * shows both nodes, 50 connections and the busiest channel with its
 * subscriber count; a node that stops leaves the page; the page says
 * "reconnecting" when its own link drops and goes live again when it comes
 * back. A screenshot is kept in test-artifacts/admin.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { HeraldServer } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { createFaultProxy } from '@herald/server/testing';
import {
  Cleanup,
  deletePrefix,
  nextState,
  numbersClient,
  REDIS_URL,
  redisAvailable,
  startAdminNode,
  subscribeNumbers,
  testPrefix,
  type NumbersSubscription,
} from '@herald/test-kit';
import { ARTIFACTS, BUILD_TIMEOUT_MS, buildAdminPage, launchChromium, missingChromium, skipBrowserTests, UI_TIMEOUT_MS } from './browser.js';

const TOKEN = 'admin-page-test-token-0123456789';
const CLIENTS = 50;
/** Clients (of the 50) subscribed to the busiest stream; the others each have a stream of their own. */
const BUSY = 30;

const redisUp = await redisAvailable();
if (skipBrowserTests) console.warn(`[admin page browser test] skipped: ${missingChromium}`);

/** A node on Redis under `prefix`; the `name` connection param is the user (and its key), so the page can look a user up and revoke them. */
const startNode = (prefix: string, nodeId: string) => startAdminNode({ nodeId, token: TOKEN, broker: redisBroker({ url: REDIS_URL, prefix }) });

/** Waits until the page's text at `selector` is `text` (an event-driven wait in the page). */
async function textIs(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(([s, t]) => document.querySelector(s as string)?.textContent === t, [selector, text], { timeout: UI_TIMEOUT_MS });
}

async function signIn(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Admin token').fill(TOKEN);
  await page.getByRole('button', { name: 'Open' }).click();
  await page.locator('[role="status"][data-connection="open"]').waitFor({ timeout: UI_TIMEOUT_MS });
}

describe.skipIf(skipBrowserTests || !redisUp)('admin page in Chromium', () => {
  let browser: Browser | null = null;

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium); // CI: a missing browser fails the run
    await buildAdminPage();
    browser = await launchChromium();
  }, BUILD_TIMEOUT_MS + 20_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function newPage(width: number): Promise<Page> {
    if (!browser) throw new Error('browser not started');
    const context = await browser.newContext({ viewport: { width, height: 900 }, reducedMotion: 'reduce' });
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    return page;
  }

  it('shows both nodes, 50 connections and the busiest channel, then a stopped node leaves', async () => {
    await using cleanup = new Cleanup();
    const prefix = testPrefix();
    cleanup.defer(() => deletePrefix(REDIS_URL, prefix));
    const one = cleanup.add(await startNode(prefix, 'node-one'));
    const two = cleanup.add(await startNode(prefix, 'node-two'));

    const page = await newPage(1280);
    cleanup.defer(() => page.context().close());
    await signIn(page, `${one.server.httpUrl}/admin/`);

    // 50 clients, alternating between the nodes: 30 on `busy`, 20 on streams of their own.
    const subscriptions: NumbersSubscription[] = [];
    const onTwo: ReturnType<typeof numbersClient>[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const server: HeraldServer = i % 2 === 0 ? one.server : two.server;
      const client = cleanup.add(numbersClient('herald', server.url, { name: `user-${i}` }));
      if (server === two.server) onTwo.push(client);
      const subscription = subscribeNumbers(client, i < BUSY ? 'busy' : `own-${i}`);
      cleanup.defer(() => subscription.unsubscribe());
      subscriptions.push(subscription);
    }
    await Promise.all(subscriptions.map((subscription) => subscription.waitForLive()));

    await page.locator('tr[data-node="node-one"]').waitFor();
    await page.locator('tr[data-node="node-two"]').waitFor();
    await textIs(page, '[data-total="Connections"] dd', String(CLIENTS));
    await textIs(page, '[data-total="Nodes"] dd', '2');
    const bySubscribers = page.getByRole('table', { name: 'Busiest channels by subscribers' });
    const busiest = bySubscribers.locator('tbody tr').first();
    await expect.poll(() => busiest.getAttribute('data-topic'), { timeout: UI_TIMEOUT_MS }).toBe('numbers:busy');
    await textIs(page, 'tr[data-topic="numbers:busy"] [data-column="subscribers"]', String(BUSY));
    expect(await page.getByRole('table', { name: 'Nodes' }).locator('tbody tr').count()).toBe(2);

    // user-1 is on node two; the page asks every node. A lookup is by prefix (user-1, user-10 … user-19), the exact match first.
    await page.getByLabel('Name, user key or connection id').fill('user-1');
    await page.getByRole('button', { name: 'Look up' }).click();
    const found = page.getByRole('table', { name: 'Connections matching user-1' }).locator('tbody tr');
    await expect.poll(() => found.count()).toBe(11);
    expect(await found.first().locator('th').textContent()).toMatch(/^node-two\/c\d+$/);
    expect(await found.first().locator('td[data-column="user"]').textContent()).toBe('user-1');

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'admin.png'), fullPage: true });

    // Revoke, confirmed in the browser's dialog: her socket on node two closes (her client reconnects).
    const userOne = onTwo[0];
    if (!userOne) throw new Error('no client on node two');
    const reconnecting = nextState(userOne, 'reconnecting');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke user-1', exact: true }).click();
    await page.getByText('Revoked the sessions of user-1.').waitFor();
    await reconnecting;
    // The lookup is run again at once and says whether the user came back (her client reconnects by itself).
    await page.getByText(/Revoked the sessions of user-1\. (They have not reconnected|They reconnected: \d+ new connection)/).waitFor();

    // Node two stops (its clients stay down with it): the page drops it and its connections.
    for (const client of onTwo) await client.close();
    await two.close();
    await page.locator('tr[data-node="node-two"]').waitFor({ state: 'detached' });
    await textIs(page, '[data-total="Nodes"] dd', '1');
    await textIs(page, '[data-total="Connections"] dd', String(CLIENTS / 2));
  });

  it('says "reconnecting" while its link is down, goes live again, and fits a narrow window', async () => {
    await using cleanup = new Cleanup();
    const prefix = testPrefix();
    cleanup.defer(() => deletePrefix(REDIS_URL, prefix));
    const node = cleanup.add(await startNode(prefix, 'node-one'));
    const proxy = cleanup.add(await createFaultProxy({ target: { port: node.server.port } }));
    const page = await newPage(390);
    cleanup.defer(() => page.context().close());
    await signIn(page, proxy.url('/admin/').replace(/^ws:/, 'http:'));
    await page.locator('tr[data-node="node-one"]').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);

    proxy.refuse();
    proxy.cutAll();
    const reconnecting = page.locator('[role="status"][data-connection="reconnecting"]');
    await reconnecting.waitFor();
    expect(await reconnecting.textContent()).toMatch(/^Reconnecting…/);
    proxy.accept();
    const live = page.locator('[role="status"][data-connection="open"]');
    await live.waitFor({ timeout: 20_000 });
    expect(await live.textContent()).toBe('Live');
  });

  it('returns to the token form when the token is wrong', async () => {
    await using cleanup = new Cleanup();
    const prefix = testPrefix();
    cleanup.defer(() => deletePrefix(REDIS_URL, prefix));
    const node = cleanup.add(await startNode(prefix, 'node-one'));
    const page = await newPage(1280);
    cleanup.defer(() => page.context().close());
    await page.goto(`${node.server.httpUrl}/admin/`);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Open' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/refused this admin token/);
    await page.getByLabel('Admin token').waitFor({ state: 'visible' });
  });
});
