/**
 * The admin page as an operator uses it at 2 a.m., in Chromium, against two
 * Herald nodes sharing Redis: finding a person by display name, browsing a
 * node's connections (a WebSocket and an HTTP event stream, with transport,
 * address, user, subscriptions, connected-since and bytes), a channel's
 * detail (subscribers per node, its connections on both nodes, members,
 * last messages) and the event log (connects, refusals by reason,
 * revocations), filtered by kind. axe-core on
 * each state, light and dark, at 1280x800 and 390x844; screenshots in
 * test-artifacts/admin-operator/.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { redisBroker } from '@herald/server/redis';
import { Cleanup, deletePrefix, FAST_BACKOFF, nextState, numbersClient, recordChannel, REDIS_URL, redisAvailable, startAdminNode, subscribeNumbers, testPrefix } from '@herald/test-kit';
import type { NumbersRouter } from '@herald/test-kit';
import { ARTIFACTS, missingChromium, pageSession, skipBrowserTests, VIEWPORTS } from './browser.js';

const TOKEN = 'admin-operator-test-token-0123456789';
const SHOTS = join(ARTIFACTS, 'admin-operator');
/** The app's names for its user keys: what the page shows and finds (`admin.displayName`). */
const NAMES: Record<string, string> = { u_ada: 'Ada Lovelace', u_grace: 'Grace Hopper', u_linus: 'Linus Torvalds' };

const redisUp = await redisAvailable();
if (skipBrowserTests) console.warn(`[admin page operator test] skipped: ${missingChromium}`);

const startNode = (prefix: string, nodeId: string) =>
  startAdminNode({ nodeId, token: TOKEN, broker: redisBroker({ url: REDIS_URL, prefix }), displayNames: NAMES, refusedUser: 'intruder' });

describe.skipIf(skipBrowserTests || !redisUp)('admin page: an operator in Chromium', () => {
  const { newPage, check } = pageSession(SHOTS);

  for (const viewport of VIEWPORTS) {
    it(`search by name, browse a node, a channel's detail and the event log at ${viewport.width}px`, async () => {
      await using cleanup = new Cleanup();
      const prefix = testPrefix();
      cleanup.defer(() => deletePrefix(REDIS_URL, prefix));
      const one = cleanup.add(await startNode(prefix, 'node-one'));
      const two = cleanup.add(await startNode(prefix, 'node-two'));

      // Ada and Linus on WebSockets (node two), Grace over HTTP with an event stream (node one); all in `lobby`.
      for (const name of ['u_ada', 'u_linus']) {
        const client = cleanup.add(numbersClient('herald', two.server.url, { name }));
        const subscription = subscribeNumbers(client, 'lobby');
        cleanup.defer(() => subscription.unsubscribe());
        await subscription.waitForLive();
      }
      const grace = cleanup.add(
        createHeraldClient<NumbersRouter>({ url: one.server.url, transport: 'http', http: httpTransport, connectionParams: { name: 'u_grace' }, backoff: FAST_BACKOFF }),
      );
      const graceStream = recordChannel<{ n: number }>((handlers) => grace.trpc.numbers.subscribe({ stream: 'lobby' }, handlers));
      cleanup.defer(() => graceStream.unsubscribe());
      await graceStream.waitForLive();
      for (let n = 1; n <= 3; n++) await grace.trpc.publish.mutate({ stream: 'lobby', n });
      await graceStream.waitForMessages(3);

      const page = await newPage(viewport);
      cleanup.defer(() => page.context().close());
      await page.goto(`${one.server.httpUrl}/admin/`);
      await page.getByLabel('Admin token').fill(TOKEN);
      await page.getByRole('button', { name: 'Open' }).click();
      await page.locator('[role="status"][data-connection="open"]').waitFor();
      await page.locator('tr[data-node="node-two"]').waitFor();

      // Search by display name: any part of it, without case.
      const search = page.getByLabel('Name, user key or connection id');
      await search.fill('lovelace');
      await search.press('Enter');
      const byName = page.getByRole('table', { name: 'Connections matching lovelace' }).locator('tbody tr');
      await expect.poll(() => byName.count()).toBe(1);
      expect(await byName.locator('th').textContent()).toMatch(/^node-two\/c\d+$/);
      expect(await byName.locator('td[data-column="user"]').textContent()).toBe('Ada Lovelace (u_ada)');
      expect(await byName.locator('td[data-column="transport"]').textContent()).toBe('WebSocket');
      expect(await byName.locator('td[data-column="bytes"]').textContent()).toMatch(/^[\d.]+ KiB \/ [\d.]+ KiB$/);
      await check(page, 'search-by-name');

      // Browse a node: node one holds Grace's event stream.
      await page.getByRole('button', { name: 'Browse node-one' }).click();
      const onOne = page.getByRole('table', { name: 'Connections matching node-one/' }).locator('tbody tr');
      await expect.poll(() => onOne.count()).toBe(1);
      expect(await onOne.locator('th').textContent()).toMatch(/^node-one\/h\d+$/);
      expect(await onOne.locator('td[data-column="transport"]').textContent()).toBe('HTTP event stream');
      expect(await onOne.locator('td[data-column="user"]').textContent()).toBe('Grace Hopper (u_grace)');
      await check(page, 'browse-node');

      // A channel's detail from the busiest-channels table: subscribers per node, members, last messages.
      await page.locator('tr[data-topic="numbers:lobby"]').first().waitFor();
      await page.getByRole('button', { name: 'Details of numbers:lobby' }).first().click();
      const detail = page.locator('[data-channel-detail="numbers:lobby"]');
      await detail.waitFor();
      await expect.poll(() => detail.evaluate((element) => element === document.activeElement)).toBe(true);
      expect(await detail.getByRole('heading', { name: /^Subscribers: 3 on 2 node/ }).count()).toBe(1);
      expect(await detail.locator('tr[data-node="node-two"] td').textContent()).toBe('2');
      expect(await detail.locator('[data-list="members"] li').count()).toBe(3);
      expect(await detail.locator('[data-list="messages"] li').allTextContents()).toEqual([
        expect.stringContaining('{"n":1}'),
        expect.stringContaining('{"n":2}'),
        expect.stringContaining('{"n":3}'),
      ]);
      await check(page, 'channel-detail');

      // The channel's connections on both nodes: Grace's event stream on node one, Ada's and Linus's WebSockets on node two.
      const subscribed = detail.getByRole('table', { name: 'Connections subscribed to numbers:lobby' }).locator('tbody tr');
      expect(await detail.getByRole('heading', { name: 'Connections: 3' }).count()).toBe(1);
      expect(await subscribed.locator('th').allTextContents()).toEqual([expect.stringMatching(/^node-one\/h\d+$/), expect.stringMatching(/^node-two\/c\d+$/), expect.stringMatching(/^node-two\/c\d+$/)]);
      expect(await subscribed.locator('td[data-column="transport"]').allTextContents()).toEqual(['HTTP event stream', 'WebSocket', 'WebSocket']);
      expect((await subscribed.locator('td[data-column="user"]').allTextContents()).sort()).toEqual(['Ada Lovelace (u_ada)', 'Grace Hopper (u_grace)', 'Linus Torvalds (u_linus)']);
      expect(await subscribed.locator('td[data-column="subscriptions"]').allTextContents()).toEqual(Array.from({ length: 3 }, () => 'numbers (numbers:lobby)'));
      await detail.getByRole('region', { name: 'Connections subscribed to numbers:lobby (scrolls sideways)' }).focus();
      await check(page, 'channel-connections');

      // The event log: a refused sign-in on node two and a revocation, next to the connects.
      const intruder = cleanup.add(numbersClient('herald', two.server.url, { name: 'intruder' }));
      const refused = nextState(intruder, 'closed');
      void intruder.trpc.publish.mutate({ stream: 'lobby', n: 0 }).catch(() => undefined);
      await refused;
      await page.locator('tr[data-event="refusal"]').first().waitFor();
      await page.getByLabel('Show').selectOption('refusal');
      const refusals = page.locator('tr[data-event]');
      await expect.poll(() => refusals.evaluateAll((rows) => rows.every((row) => row.getAttribute('data-event') === 'refusal'))).toBe(true);
      expect(await refusals.first().textContent()).toContain('unauthorized');
      expect(await refusals.first().textContent()).toContain('node-two');
      await check(page, 'event-log-refusals');

      await page.getByLabel('Show').selectOption('all');
      const revoked = nextState(grace, 'reconnecting');
      await search.fill('grace');
      await search.press('Enter');
      page.once('dialog', (dialog) => void dialog.accept());
      await page.getByRole('button', { name: 'Revoke u_grace' }).click();
      await revoked;
      // Her sessions ended on node one (and her client's old credentials are refused as revoked when it dials again).
      await page.locator('tr[data-event="revocation"]', { hasText: 'u_grace' }).first().waitFor();
      expect(await page.locator('tr[data-event="connect"]').count()).toBeGreaterThanOrEqual(3);
      await check(page, 'event-log');
    }, 60_000);
  }
});
