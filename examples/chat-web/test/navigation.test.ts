/**
 * Finding one's way in the chat, with two people in two browser contexts
 * (Chromium): unread counts per room and in the tab title, no "start of the
 * room" flash when switching to a room with messages, a "new messages"
 * button when scrolled up; and unsent messages of a closed tab found by the
 * next tab of the same person. Screenshots in test-artifacts/chat-navigation/.
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
  BUILD_TIMEOUT_MS,
  buildWebApp,
  expectCount,
  launchChromium,
  logIn,
  messagesWithText,
  missingChromium,
  openPage,
  RECOVERY_TIMEOUT_MS,
  send,
  skipBrowserTests,
  UI_TIMEOUT_MS,
} from './helpers/browser.js';

const AUTH_SECRET = 'navigation-test-secret-0123456789abcd';
const DESKTOP = { width: 1280, height: 800 } as const;
const MOBILE = { width: 390, height: 844 } as const;
const SHOTS = join(ARTIFACTS, 'chat-navigation');

if (skipBrowserTests) console.warn(`[chat-web navigation test] skipped: ${missingChromium}`);

describe.skipIf(skipBrowserTests)('chat web app: navigation in Chromium', () => {
  let outDir = '';
  let chat: ChatServer | null = null;
  let browser: Browser | null = null;
  const pageErrors: string[] = [];

  const start = (port: number) => startChatServer({ port, host: '127.0.0.1', staticDir: outDir, authSecret: AUTH_SECRET });

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium); // CI: a missing browser fails the run
    outDir = mkdtempSync(join(tmpdir(), 'herald-chat-nav-'));
    await buildWebApp(outDir);
    chat = await start(0);
    // A room with some history, to switch to and to scroll up in.
    const login = stockClient<AppRouter>(chat.server.url);
    const { token } = await login.trpc.auth.login.mutate({ name: 'Archivist' });
    await login.close();
    const archivist = stockClient<AppRouter>(chat.server.url, { token });
    for (let i = 1; i <= 120; i += 40) {
      await Promise.all(Array.from({ length: 40 }, (_, j) => archivist.trpc.chat.send.mutate({ room: 'archive', text: `Archived ${i + j}` })));
    }
    await archivist.close();
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
  const roomLink = (page: Page, room: string) => page.getByRole('navigation', { name: 'Rooms' }).locator(`a[href="#/${room}"]`);

  it('unread counts per room and in the title, no empty-room flash, and a new-messages button when scrolled up', async () => {
    const ann = await newPage(DESKTOP);
    const bob = await newPage(MOBILE);
    // Ann knows #design and #archive (she opened them), then reads the lobby.
    await logIn(ann, `${url()}#/design`, 'Ann');
    await ann.goto(`${url()}#/archive`);
    await messagesWithText(ann, 'Archived 120').waitFor();
    await roomLink(ann, 'lobby').click();
    await ann.getByRole('heading', { name: 'lobby', exact: true }).waitFor();

    await logIn(bob, `${url()}#/design`, 'Bob');
    await send(bob, 'Design review at 3?');
    await send(bob, 'Bring the mock-ups.');
    const badge = roomLink(ann, 'design').locator('[data-unread]');
    await expect.poll(() => badge.getAttribute('data-unread')).toBe('2');
    expect(await roomLink(ann, 'design').textContent()).toMatch(/design\s*2 unread/);
    await expect.poll(() => ann.title()).toBe('(2) Herald Chat');
    expect(await axeViolations(ann)).toEqual([]);
    await ann.screenshot({ path: join(SHOTS, 'unread-1280.png') });

    // Opening #archive (it has messages): never "This is the start of #archive" on the way.
    await ann.evaluate(() => {
      const seen = { empty: false };
      (window as unknown as { __sawEmpty: typeof seen }).__sawEmpty = seen;
      new MutationObserver(() => {
        if (document.querySelector('.messages__empty-title')) seen.empty = true;
      }).observe(document.body, { childList: true, subtree: true });
    });
    await roomLink(ann, 'archive').click();
    await messagesWithText(ann, 'Archived 120').waitFor();
    expect(await ann.evaluate(() => (window as unknown as { __sawEmpty: { empty: boolean } }).__sawEmpty.empty)).toBe(false);

    // Opening #design reads it: the count and the title clear.
    await roomLink(ann, 'design').click();
    await messagesWithText(ann, 'Bring the mock-ups.').waitFor();
    await badge.waitFor({ state: 'detached' });
    await expect.poll(() => ann.title()).toBe('Herald Chat');

    // Scrolled up in #archive, a new message brings a button, not a jump.
    await roomLink(ann, 'archive').click();
    const conversation = ann.getByRole('region', { name: 'Conversation in #archive' });
    await messagesWithText(ann, 'Archived 120').waitFor();
    await conversation.evaluate((element) => {
      element.scrollTop = 0;
    });
    await expect.poll(() => conversation.evaluate((element) => element.scrollTop)).toBe(0);
    await bob.goto(`${url()}#/archive`);
    await bob.getByRole('heading', { name: 'archive', exact: true }).waitFor();
    await send(bob, 'Found the old spec.');
    const button = ann.getByRole('button', { name: /1 new message/ });
    await button.waitFor();
    expect(await conversation.evaluate((element) => element.scrollTop)).toBeLessThan(50);
    expect(await axeViolations(ann)).toEqual([]);
    await ann.screenshot({ path: join(SHOTS, 'new-messages-1280.png') });
    await button.click();
    await button.waitFor({ state: 'detached' });
    await expect
      .poll(() => conversation.evaluate((element) => element.scrollHeight - element.scrollTop - element.clientHeight))
      .toBeLessThan(80);
    expect(pageErrors).toEqual([]);
    await ann.context().close();
    await bob.context().close();
  }, 60_000);

  it('unsent messages of a closed tab are sent by the next tab of the same person', async () => {
    if (!chat) throw new Error('server not started');
    const port = chat.server.port;
    const first = await newPage(DESKTOP);
    await logIn(first, `${url()}#/handover`, 'Tess');
    await chat.close();
    chat = null;
    await first.locator('[role="status"][data-connection="reconnecting"]').waitFor({ timeout: RECOVERY_TIMEOUT_MS });
    for (const text of ['Left in a closed tab 1', 'Left in a closed tab 2', 'Left in a closed tab 3']) await send(first, text);
    await expectCount(first.locator('[data-outbox-status="queued"]'), 3);
    const context = first.context();
    await first.close();

    chat = await start(port);
    // A new tab (its own sessionStorage: signed out), same browser, same person.
    const second = await context.newPage();
    second.setDefaultTimeout(UI_TIMEOUT_MS);
    second.on('pageerror', (error) => pageErrors.push(`second tab: ${error.message}`));
    await logIn(second, `${url()}#/handover`, 'Tess');
    await second.locator('[data-carried="3"]').waitFor({ timeout: RECOVERY_TIMEOUT_MS });
    for (const text of ['Left in a closed tab 1', 'Left in a closed tab 2', 'Left in a closed tab 3']) {
      await expectCount(messagesWithText(second, text), 1, 2 * RECOVERY_TIMEOUT_MS);
    }
    expect(await second.locator('[data-message-id] .message__text').allTextContents()).toEqual([
      'Left in a closed tab 1',
      'Left in a closed tab 2',
      'Left in a closed tab 3',
    ]);
    await second.locator('[data-carried][data-carried-waiting="0"]').waitFor();
    expect(await axeViolations(second)).toEqual([]);
    await second.screenshot({ path: join(SHOTS, 'closed-tab-handover-1280.png') });
    expect(pageErrors).toEqual([]);
    await context.close();
  }, 60_000);
});
