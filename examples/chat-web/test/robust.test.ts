/**
 * The chat web app when things go wrong in the browser, in Chromium: the
 * outbox cannot record a message (IndexedDB says its quota is exceeded),
 * a URL that cannot be decoded, and a room taking 10,000 messages in a
 * burst. Screenshots in test-artifacts/chat-robust/.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startChatServer, type AppRouter, type ChatServer } from '@herald/example-chat-server';
import { stockClient } from '@herald/test-kit';
import { axeViolations } from '@herald/test-kit/axe';
import {
  ARTIFACTS,
  BUILD_TIMEOUT_MS,
  buildWebApp,
  expectCount,
  launchChromium,
  logIn,
  messagesWithText,
  missingChromium,
  openPage,
  send,
  skipBrowserTests,
} from './helpers/browser.js';

const AUTH_SECRET = 'robust-test-secret-0123456789abcdefgh';
const DESKTOP = { width: 1280, height: 800 } as const;
const MOBILE = { width: 390, height: 844 } as const;
const SHOTS = join(ARTIFACTS, 'chat-robust');
const BURST = 10_000;

if (skipBrowserTests) console.warn(`[chat-web robustness test] skipped: ${missingChromium}`);

/** Runs in the page before the app: while `__quotaFull` is set, IndexedDB writes fail as a full disk makes them. */
function fakeQuota(fullAtStart: boolean): void {
  (window as unknown as { __quotaFull?: boolean }).__quotaFull = fullAtStart;
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
    if ((window as unknown as { __quotaFull?: boolean }).__quotaFull) {
      throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    }
    return put.apply(this, args);
  };
}

describe.skipIf(skipBrowserTests)('chat web app: robustness in Chromium', () => {
  let outDir = '';
  let chat: ChatServer | null = null;
  let browser: Browser | null = null;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium); // CI: a missing browser fails the run
    outDir = mkdtempSync(join(tmpdir(), 'herald-chat-robust-'));
    await buildWebApp(outDir);
    // The flood comes from one connection: its request rate is not what is tested here.
    chat = await startChatServer({ port: 0, host: '127.0.0.1', staticDir: outDir, authSecret: AUTH_SECRET, limits: { rate: false } });
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  }, BUILD_TIMEOUT_MS + 20_000);

  afterAll(async () => {
    await browser?.close();
    await chat?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const newPage = (viewport: { width: number; height: number }): Promise<Page> => openPage(browser, viewport, pageErrors);

  const url = () => {
    if (!chat) throw new Error('server not started');
    return `${chat.server.httpUrl}/`;
  };

  it('the build ships brotli and gzip copies and no source maps; the server sends the compressed copy', async () => {
    const assets = readdirSync(join(outDir, 'assets'));
    expect(assets.filter((file) => file.endsWith('.map'))).toEqual([]);
    const scripts = assets.filter((file) => /\.(js|css)$/.test(file));
    expect(scripts.length).toBeGreaterThan(0);
    for (const file of scripts) {
      expect(assets, file).toContain(`${file}.br`);
      expect(assets, file).toContain(`${file}.gz`);
    }
    const script = scripts.find((file) => file.endsWith('.js')) ?? '';
    const res = await fetch(`${url()}assets/${script}`, { headers: { 'accept-encoding': 'br' } });
    expect(res.headers.get('content-encoding')).toBe('br');
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect((await res.text()).length).toBeGreaterThan(100_000); // fetch decodes it
  });

  // Full once the page runs (the outbox started, or still starting), or from its first moment (the outbox cannot start: the Retry starts it).
  it.each([
    { when: 'once the page runs', room: 'quota', fullAtStart: false },
    { when: 'from the first moment, so the outbox cannot start', room: 'quota-start', fullAtStart: true },
  ])('a message the outbox cannot record (storage full $when) is shown failed, with the reason and its text, and Retry sends it', async ({ room, fullAtStart }) => {
    const page = await newPage(DESKTOP);
    await page.addInitScript(fakeQuota, fullAtStart);
    await logIn(page, `${url()}#/${room}`, 'Quinn');
    await page.evaluate(() => {
      (window as unknown as { __quotaFull?: boolean }).__quotaFull = true;
    });
    await send(page, 'Kept although the disk is full');
    const failed = page.locator('[data-outbox-status="failed"]');
    await failed.waitFor();
    expect(await failed.locator('.message__text').textContent()).toBe('Kept although the disk is full');
    expect(await failed.getByRole('alert').textContent()).toMatch(/could not store the message \(QuotaExceededError: The quota has been exceeded\.\)/);
    expect(await axeViolations(page)).toEqual([]);
    if (!fullAtStart) await page.screenshot({ path: join(SHOTS, 'record-failed-1280.png') });

    await page.evaluate(() => {
      (window as unknown as { __quotaFull?: boolean }).__quotaFull = false;
    });
    await failed.getByRole('button', { name: 'Retry' }).click();
    await expectCount(messagesWithText(page, 'Kept although the disk is full'), 1);
    await expectCount(page.locator('[data-outbox-status]'), 0);
    await page.context().close();
  });

  it('a URL that cannot be decoded opens the lobby instead of a blank page', async () => {
    const page = await newPage(MOBILE);
    await page.goto(`${url()}#/%E0%A4%A`);
    await page.getByLabel('Name').fill('Uri');
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByRole('heading', { name: 'lobby', exact: true }).waitFor();
    expect(pageErrors).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'bad-url-390.png') });
    await page.context().close();
  });

  it(`keeps up with ${BURST.toLocaleString('en')} messages in a burst: a bounded list, and a reply shows at once after`, async () => {
    if (!chat) throw new Error('server not started');
    const page = await newPage(DESKTOP);
    await logIn(page, `${url()}#/flood`, 'Reader');
    await page.evaluate(() => {
      const longest = { ms: 0 };
      (window as unknown as { __longest: typeof longest }).__longest = longest;
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) longest.ms = Math.max(longest.ms, entry.duration);
      }).observe({ type: 'longtask' });
    });

    const login = stockClient<AppRouter>(chat.server.url);
    const { token } = await login.trpc.auth.login.mutate({ name: 'Flood' });
    await login.close();
    const flood = stockClient<AppRouter>(chat.server.url, { token });
    try {
      for (let i = 0; i < BURST; i += 50) {
        await Promise.all(Array.from({ length: 50 }, (_, j) => flood.trpc.chat.send.mutate({ room: 'flood', text: `Burst ${i + j + 1}` })));
      }
      await expectCount(messagesWithText(page, `Burst ${BURST}`), 1, 60_000);
      // Only the newest are in the page, however many arrived.
      expect(await page.locator('[data-message-id]').count()).toBeLessThanOrEqual(150);

      // After the burst a new message shows within a second: nothing is left queued on the main thread.
      const sentAt = Date.now();
      await flood.trpc.chat.send.mutate({ room: 'flood', text: 'After the burst' });
      await messagesWithText(page, 'After the burst').waitFor({ timeout: 1_000 });
      const longestMs = await page.evaluate(() => (window as unknown as { __longest: { ms: number } }).__longest.ms);
      console.log(`[robust] reply shown ${Date.now() - sentAt} ms after sending; longest task during the burst ${longestMs} ms`);
      // Generous for a shared 2-core machine (about 100 ms here; before the cap, each message took 140-210 ms).
      expect(longestMs).toBeLessThan(1_000);
    } finally {
      await flood.close();
    }
    // The reader's own send still works.
    await send(page, 'Still responsive');
    await expectCount(messagesWithText(page, 'Still responsive'), 1);
    await page.screenshot({ path: join(SHOTS, 'burst-1280.png') });
    expect(pageErrors).toEqual([]);
    await page.context().close();
  }, 120_000);
});
