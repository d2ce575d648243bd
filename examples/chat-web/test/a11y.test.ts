/**
 * The chat web app held to WCAG 2.1 A/AA and axe's best practices in
 * Chromium, on every state a person meets: signed out, a room with 1,000
 * messages, three people in a room (the member strip a scroller on a
 * phone), reconnecting, offline, session ended; each in light and dark
 * (`prefers-color-scheme`) on a laptop (1280x800) and a phone (390x844).
 * Also what axe cannot see: focus after Join, one announcement per
 * connection change, an author for every message, keyboard-only use.
 * Screenshots of each state are kept in test-artifacts/chat-a11y/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startChatServer, type AppRouter, type ChatServer } from '@herald/example-chat-server';
import { stockClient } from '@herald/test-kit';
import { axeViolations } from '@herald/test-kit/axe';
import {
  ARTIFACTS,
  banner,
  BUILD_TIMEOUT_MS,
  buildWebApp,
  launchChromium,
  logIn,
  missingChromium,
  RECOVERY_TIMEOUT_MS,
  skipBrowserTests,
  UI_TIMEOUT_MS,
  send,
} from './helpers/browser.js';

const AUTH_SECRET = 'a11y-test-secret-0123456789abcdefgh';
const OTHER_SECRET = 'a11y-test-other-secret-0123456789abc';
const ROOM = 'busy';
const SEEDED = 1_000;
const DESKTOP = { width: 1280, height: 800 } as const;
const MOBILE = { width: 390, height: 844 } as const;
const SHOTS = join(ARTIFACTS, 'chat-a11y');

if (skipBrowserTests) console.warn(`[chat-web a11y test] skipped: ${missingChromium}`);

/** Fills `room` with `count` messages from two people, as fast as the server takes them. */
async function seed(url: string, room: string, count: number): Promise<void> {
  const login = stockClient<AppRouter>(url);
  const sessions = [await login.trpc.auth.login.mutate({ name: 'Grace Hopper' }), await login.trpc.auth.login.mutate({ name: 'Linus' })];
  await login.close();
  const clients = sessions.map((session) => stockClient<AppRouter>(url, { token: session.token }));
  try {
    for (let i = 0; i < count; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, count - i) }, (_, j) => {
          const n = i + j;
          // Runs of three by one author, so follow-ups are grouped under one header.
          const client = clients[Math.floor(n / 3) % 2];
          return client?.trpc.chat.send.mutate({ room, text: `Message ${n + 1} of ${count}` });
        }),
      );
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

describe.skipIf(skipBrowserTests)('chat web app: accessibility in Chromium', () => {
  let outDir = '';
  let chat: ChatServer | null = null;
  let browser: Browser | null = null;
  const pageErrors: string[] = [];

  const start = (port: number, authSecret = AUTH_SECRET) => startChatServer({ port, host: '127.0.0.1', staticDir: outDir, authSecret });

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium); // CI: a missing browser fails the run
    outDir = mkdtempSync(join(tmpdir(), 'herald-chat-a11y-'));
    await buildWebApp(outDir);
    chat = await start(0);
    await seed(chat.server.url, ROOM, SEEDED);
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  }, BUILD_TIMEOUT_MS + 40_000);

  afterAll(async () => {
    await browser?.close();
    await chat?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  async function newPage(viewport: { width: number; height: number }, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
    if (!browser) throw new Error('browser not started');
    const context = await browser.newContext({ viewport, colorScheme, reducedMotion: 'reduce' });
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.on('pageerror', (error) => pageErrors.push(`${viewport.width}px: ${error.message}`));
    return page;
  }

  /** Checks the page in light and dark, with a screenshot of each. */
  async function check(page: Page, state: string): Promise<void> {
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      const width = page.viewportSize()?.width ?? 0;
      await page.screenshot({ path: join(SHOTS, `${state}-${width}-${colorScheme}.png`) });
      expect(await axeViolations(page), `${state}, ${width}px, ${colorScheme}`).toEqual([]);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  }

  const url = () => {
    if (!chat) throw new Error('server not started');
    return `${chat.server.httpUrl}/`;
  };

  it('signed out', async () => {
    for (const viewport of [DESKTOP, MOBILE]) {
      const page = await newPage(viewport);
      await page.goto(url());
      await page.getByLabel('Name').waitFor();
      await check(page, 'signed-out');
      await page.context().close();
    }
  });

  it('a room with 1,000 messages on a phone', async () => {
    const page = await newPage(MOBILE);
    await logIn(page, `${url()}#/${ROOM}`, 'Ada');
    await page.locator('[data-message-id]').nth(99).waitFor();
    // The conversation keeps most of a phone's height: the new-room form is folded behind a button.
    const conversation = page.getByRole('region', { name: `Conversation in #${ROOM}` });
    expect((await conversation.boundingBox())?.height ?? 0).toBeGreaterThan(MOBILE.height * 0.6);
    await check(page, 'room');
    const toggle = page.getByRole('button', { name: 'New room' });
    await toggle.click();
    expect(await toggle.getAttribute('aria-expanded')).toBe('true');
    await expect.poll(() => page.getByLabel('New room').evaluate((element) => element === document.activeElement)).toBe(true);
    await check(page, 'room-new-room-open');
    await page.context().close();
  });

  it('three people in a room on a phone: the member strip scrolls sideways, from the keyboard too', async () => {
    const pages: Page[] = [];
    try {
      for (const name of ['Ada Lovelace', 'Grace Hopper', 'Katherine Johnson']) {
        const page = await newPage(MOBILE);
        pages.push(page);
        await logIn(page, `${url()}#/trio`, name);
      }
      const [first] = pages;
      if (!first) throw new Error('no page');
      const strip = first.getByRole('complementary', { name: /In this room/ });
      await strip.getByText('3', { exact: true }).waitFor();
      // The strip is wider than the phone: a scroller, which takes focus and scrolls with the arrow keys.
      expect(await strip.evaluate((element) => element.scrollWidth > element.clientWidth)).toBe(true);
      await strip.focus();
      await check(first, 'members-three-phone');
      expect(await strip.evaluate((element) => element === document.activeElement)).toBe(true);
      await first.keyboard.press('ArrowRight');
      await expect.poll(() => strip.evaluate((element) => element.scrollLeft)).toBeGreaterThan(0);
    } finally {
      for (const page of pages) await page.context().close();
    }
  });

  // 200% and 400% zoom of a 1280x800 window: the same CSS pixels as 640x400 and 320x200.
  for (const [zoom, viewport] of [
    ['200', { width: 640, height: 400 }],
    ['400', { width: 320, height: 200 }],
  ] as const) {
    it(`a room at ${zoom}% zoom: nothing overlaps, nothing scrolls sideways`, async () => {
      const page = await newPage(viewport);
      await logIn(page, `${url()}#/${ROOM}`, 'Zoe');
      await page.locator('[data-message-id]').nth(99).waitFor();
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
      // Messages are laid out in the page, not squeezed: each is clear of the composer and of its neighbours.
      const overlaps = await page.evaluate(() => {
        const composer = document.querySelector('.composer')?.getBoundingClientRect();
        const items = [...document.querySelectorAll('[data-message-id]')].map((item) => item.getBoundingClientRect());
        let count = 0;
        for (let i = 1; i < items.length; i++) if ((items[i]?.top ?? 0) < (items[i - 1]?.bottom ?? 0) - 1) count++;
        // The composer is sticky at the bottom: a message under it is scrolled past, not overlapping; check the last one can be seen above it.
        const last = items.at(-1);
        if (composer && last) window.scrollTo(0, document.documentElement.scrollHeight);
        const lastNow = document.querySelector('[data-message-id]:last-of-type')?.getBoundingClientRect();
        return { count, lastHidden: composer && lastNow ? lastNow.bottom > document.querySelector('.composer')!.getBoundingClientRect().top + 1 : false };
      });
      expect(overlaps).toEqual({ count: 0, lastHidden: false });
      await page.screenshot({ path: join(SHOTS, `room-zoom-${zoom}.png`) });
      expect(await axeViolations(page)).toEqual([]);
      await page.context().close();
    });
  }

  it('a room with 1,000 messages, then reconnecting, offline and session ended, used with the keyboard', async () => {
    if (!chat) throw new Error('server not started');
    const port = chat.server.port;
    const page = await newPage(DESKTOP);
    await logIn(page, `${url()}#/${ROOM}`, 'Ada');
    // Join puts the caret in the message box.
    await expect.poll(() => page.getByLabel('Message').evaluate((element) => element === document.activeElement)).toBe(true);
    const messages = page.locator('[data-message-id]');
    await messages.nth(99).waitFor();

    // Keyboard only: Enter sends from the message box; own messages say "(you)".
    await page.keyboard.type('Typed with the keyboard');
    await page.keyboard.press('Enter');
    const mine = page.locator('[data-message-id].message--mine').filter({ hasText: 'Typed with the keyboard' });
    await mine.waitFor();
    expect(await mine.textContent()).toContain('Ada (you)');
    // The conversation itself takes focus (to scroll it with the keyboard).
    expect(await page.getByRole('region', { name: `Conversation in #${ROOM}` }).getAttribute('tabindex')).toBe('0');

    // Every message names its author to a screen reader, grouped follow-ups too.
    const texts = await messages.evaluateAll((items) =>
      items.map((item) => {
        const copy = item.cloneNode(true) as HTMLElement;
        for (const hidden of copy.querySelectorAll('[aria-hidden="true"]')) hidden.remove();
        return copy.textContent ?? '';
      }),
    );
    expect(texts.filter((text) => !/^(Grace Hopper|Linus|Ada \(you\))/.test(text.trim()))).toEqual([]);
    // Older history on demand, kept to a bounded number of rendered messages.
    await page.getByRole('button', { name: 'Show older messages' }).click();
    await messages.nth(199).waitFor();
    expect(await messages.count()).toBeLessThanOrEqual(250);
    await check(page, 'room');

    // The server goes away: announced once, however many attempts follow; presence is marked stale.
    await page.evaluate(() => {
      const region = document.querySelector('[role="status"][data-connection]');
      const seen: string[] = [];
      (window as unknown as { __announced: string[] }).__announced = seen;
      if (region) new MutationObserver(() => seen.push(region.textContent ?? '')).observe(region, { childList: true, subtree: true, characterData: true });
    });
    await chat.close();
    chat = null;
    // Attempts come quickly with full jitter: wait for any third or later one.
    await page.locator('.banner__detail', { hasText: /attempt ([3-9]|\d{2,})\)/ }).waitFor({ timeout: 2 * RECOVERY_TIMEOUT_MS });
    const announced = await page.evaluate(() => (window as unknown as { __announced: string[] }).__announced.filter(Boolean));
    expect(new Set(announced).size).toBe(1);
    expect(announced[0]).toMatch(/^Reconnecting…/);
    await page.locator('[data-stale]').waitFor();
    // Written with no server: shown at once as waiting, in plain words.
    await send(page, 'Written while the server was away');
    const queued = page.locator('[data-outbox-status="queued"]');
    await queued.waitFor();
    expect(await queued.textContent()).toMatch(/not sent yet: no connection to the chat server/);
    await check(page, 'reconnecting');

    // No network at all.
    await page.context().setOffline(true);
    await banner(page).filter({ hasText: 'You are offline' }).waitFor();
    await check(page, 'offline');
    await page.context().setOffline(false);

    // The server is back with another signing secret: the session ends, and the sign-in page says so.
    chat = await start(port, OTHER_SECRET);
    await page.getByRole('alert').filter({ hasText: /no longer valid/ }).waitFor({ timeout: 2 * RECOVERY_TIMEOUT_MS });
    await check(page, 'session-ended');

    // Signing in again in the same tab as the same person: the closed client gave back its owner lock, so the
    // new one takes over what was written while the server was away, and the page says so. Nothing is lost:
    // it is sent, or (when the ended session's last attempt went over HTTP, whose refusal names the call)
    // offered as failed with the reason, Retry and Discard; Retry sends it once.
    await page.getByLabel('Name').fill('Ada');
    await page.getByRole('button', { name: 'Join' }).click();
    await page.getByLabel('Message').waitFor();
    await page.locator('[data-carried="1"]').waitFor({ timeout: RECOVERY_TIMEOUT_MS });
    const failed = page.locator('[data-outbox-status="failed"]');
    await page.locator('[data-carried][data-carried-waiting="0"], [data-outbox-status="failed"]').first().waitFor({ timeout: RECOVERY_TIMEOUT_MS });
    if ((await failed.count()) > 0) {
      expect(await failed.textContent()).toMatch(/Written while the server was away.*Not sent: /);
      await check(page, 'signed-in-again-offered');
      await failed.getByRole('button', { name: 'Retry' }).focus();
      await page.keyboard.press('Enter');
    }
    await page.locator('[data-carried][data-carried-waiting="0"]').waitFor({ timeout: RECOVERY_TIMEOUT_MS });
    const resent = page.locator('[data-message-id] .message__text', { hasText: 'Written while the server was away' });
    await resent.first().waitFor();
    expect(await resent.count()).toBe(1);
    expect(await page.locator('[data-outbox-status]').count()).toBe(0);
    await check(page, 'signed-in-again');
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
