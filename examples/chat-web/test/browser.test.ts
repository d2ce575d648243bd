/**
 * The chat web app in a real browser (Debian's Chromium, driven by
 * playwright-core), against the chat server started in-process: two people
 * chat, the server restarts mid-conversation, and both recover; and the same
 * app behind a proxy that strips WebSocket upgrades, on HTTP + SSE; and
 * images: one page sends one, another shows it rendered from the bytes that
 * came over its WebSocket (MessagePack `bin`), a page opened later gets it
 * from history, and a refused one says why.
 * Chromium and the shared helpers: ./helpers/browser.ts.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import { startChatServer, type ChatServer } from '@herald/example-chat-server';
import { startUpgradeProxy } from '@herald/test-kit';
import { axeViolations } from '@herald/test-kit/axe';
import {
  annAndBob,
  ARTIFACTS,
  banner,
  BUILD_TIMEOUT_MS,
  buildWebApp,
  expectCount,
  LAPTOP,
  launchChromium,
  openPage,
  logIn,
  membersPanel,
  messagesWithText,
  missingChromium,
  PHONE,
  RECOVERY_TIMEOUT_MS,
  send,
  skipBrowserTests,
  UI_TIMEOUT_MS,
} from './helpers/browser.js';

const AUTH_SECRET = 'browser-test-secret-0123456789abcdef';
/** A 3x2 PNG made by the browser itself (a canvas, toBlob): a real image it can decode again. */
async function pngFrom(page: Page): Promise<Buffer> {
  const bytes = await page.evaluate(async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 3;
    canvas.height = 2;
    const context = canvas.getContext('2d')!;
    context.fillStyle = '#c62828';
    context.fillRect(0, 0, 3, 2);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
    return [...new Uint8Array(await blob!.arrayBuffer())];
  });
  return Buffer.from(bytes);
}

const ALT = 'Four coloured pixels';

/** The natural width of the image `img` shows once the browser decoded it (0 until then, or when it could not). */
function naturalWidth(img: Locator): Promise<number> {
  return img.evaluate((element) => (element as HTMLImageElement).naturalWidth);
}

if (skipBrowserTests) console.warn(`[chat-web browser test] skipped: ${missingChromium}`);

describe.skipIf(skipBrowserTests)('chat web app in Chromium', () => {
  let outDir = '';
  let chat: ChatServer | null = null;
  let browser: Browser | null = null;
  const pageErrors: string[] = [];

  const start = (port: number) => startChatServer({ port, host: '127.0.0.1', staticDir: outDir, authSecret: AUTH_SECRET });

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium); // CI: a missing browser fails the run
    outDir = mkdtempSync(join(tmpdir(), 'herald-chat-web-'));
    await buildWebApp(outDir);
    chat = await start(0);
    browser = await launchChromium();
  }, BUILD_TIMEOUT_MS + 20_000);

  afterAll(async () => {
    await browser?.close();
    await chat?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const newPage = (viewport: { width: number; height: number }): Promise<Page> => openPage(browser, viewport, pageErrors);

  it('two people chat, the server restarts mid-conversation, and both recover without losing or doubling messages', async () => {
    if (!chat) throw new Error('server not started');
    const port = chat.server.port;
    const url = `${chat.server.httpUrl}/`;
    // Ann on a laptop, Bob on a phone, each seeing the other in the room.
    const { ann, bob } = await annAndBob(newPage, url);

    await send(ann, 'Hi Bob! Did the deploy go out?');
    await expectCount(messagesWithText(bob, 'Hi Bob! Did the deploy go out?'), 1);
    await send(bob, 'Yes, 10 minutes ago. All green.');
    await expectCount(messagesWithText(ann, 'Yes, 10 minutes ago. All green.'), 1);

    // The server goes away: both show that they are reconnecting.
    await chat.close();
    chat = null;
    await expect.poll(() => banner(ann).textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/Reconnecting…/);
    await expect.poll(() => banner(bob).textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/Reconnecting…/);

    // Written during the outage: queued, and shown as waiting.
    await send(ann, 'Sent while the server was down (Ann)');
    await send(bob, 'Sent while the server was down (Bob)');
    await expectCount(ann.locator('[data-outbox-status="queued"]'), 1);
    await expectCount(bob.locator('[data-outbox-status="queued"]'), 1);
    mkdirSync(ARTIFACTS, { recursive: true });
    await ann.screenshot({ path: join(ARTIFACTS, 'chat-reconnecting.png') });

    // Back on the same port with the same secret: sessions stay valid.
    chat = await start(port);
    for (const page of [ann, bob]) {
      await expect.poll(() => banner(page).getAttribute('data-connection'), { timeout: RECOVERY_TIMEOUT_MS }).toBe('open');
    }

    // Everything is there, each once; nothing is left waiting or failed.
    const conversation = [
      'Hi Bob! Did the deploy go out?',
      'Yes, 10 minutes ago. All green.',
      'Sent while the server was down (Ann)',
      'Sent while the server was down (Bob)',
    ];
    for (const page of [ann, bob]) {
      for (const text of conversation) await expectCount(messagesWithText(page, text), 1, RECOVERY_TIMEOUT_MS);
      await expectCount(page.locator('[data-outbox-status]'), 0);
      await expect.poll(() => banner(page).textContent(), { timeout: UI_TIMEOUT_MS }).not.toMatch(/Reconnecting/);
    }

    // Presence and live delivery work again after the restart.
    await membersPanel(ann).getByText('Bob', { exact: true }).waitFor();
    await membersPanel(bob).getByText('Ann', { exact: true }).waitFor();
    await send(bob, 'Back online. Shipping the fix now.');
    await expectCount(messagesWithText(ann, 'Back online. Shipping the fix now.'), 1);
    await expectCount(messagesWithText(bob, 'Back online. Shipping the fix now.'), 1);
    // Order is kept: the list ends with the newest message on both screens.
    for (const page of [ann, bob]) {
      await expect.poll(() => page.locator('[data-message-id] .message__text').last().textContent()).toBe('Back online. Shipping the fix now.');
    }

    await expect.poll(() => banner(ann).textContent(), { timeout: 5_000 }).toBe(''); // "Connected again." has faded
    await ann.screenshot({ path: join(ARTIFACTS, 'chat.png') });
    await bob.screenshot({ path: join(ARTIFACTS, 'chat-phone.png') });

    expect(pageErrors).toEqual([]);
  }, 50_000);

  it('works behind a proxy that refuses WebSocket upgrades: falls back to HTTP + SSE, survives a cut, loses nothing', async () => {
    const direct = await startChatServer({ port: 0, host: '127.0.0.1', staticDir: outDir, authSecret: AUTH_SECRET });
    const proxy = await startUpgradeProxy({ targetPort: direct.server.port, upgrades: 'refuse' });
    try {
      const url = `${proxy.httpUrl}/`;
      const ann = await newPage(LAPTOP);
      const bob = await newPage(PHONE);
      await logIn(ann, url, 'Ann');
      await logIn(bob, url, 'Bob');
      for (const page of [ann, bob]) {
        await expect.poll(() => banner(page).getAttribute('data-transport'), { timeout: RECOVERY_TIMEOUT_MS }).toBe('http');
      }
      expect(proxy.upgradesRefused).toBeGreaterThan(0);

      // Presence and messages over Server-Sent Events.
      await membersPanel(ann).getByText('Bob', { exact: true }).waitFor();
      await membersPanel(bob).getByText('Ann', { exact: true }).waitFor();
      await send(ann, 'Can you hear me over HTTP?');
      await expectCount(messagesWithText(bob, 'Can you hear me over HTTP?'), 1);
      await send(bob, 'Loud and clear, through the proxy.');
      await expectCount(messagesWithText(ann, 'Loud and clear, through the proxy.'), 1);

      // The network drops: both say so, and what is written meanwhile waits.
      proxy.setOffline(true);
      proxy.cutAll();
      for (const page of [ann, bob]) {
        await expect.poll(() => banner(page).textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/Reconnecting…/);
      }
      await send(ann, 'Written during the cut (Ann)');
      await expectCount(ann.locator('[data-outbox-status="queued"]'), 1);
      proxy.setOffline(false);
      for (const page of [ann, bob]) {
        await expect.poll(() => banner(page).getAttribute('data-connection'), { timeout: RECOVERY_TIMEOUT_MS }).toBe('open');
      }

      const conversation = ['Can you hear me over HTTP?', 'Loud and clear, through the proxy.', 'Written during the cut (Ann)'];
      for (const page of [ann, bob]) {
        for (const text of conversation) await expectCount(messagesWithText(page, text), 1, RECOVERY_TIMEOUT_MS);
        await expectCount(page.locator('[data-outbox-status]'), 0);
        expect(await banner(page).getAttribute('data-transport')).toBe('http');
      }
      await send(bob, 'Still here after the cut.');
      await expectCount(messagesWithText(ann, 'Still here after the cut.'), 1);
      expect(proxy.upgradesForwarded).toBe(0);
      mkdirSync(ARTIFACTS, { recursive: true });
      await ann.screenshot({ path: join(ARTIFACTS, 'chat-http-fallback.png') });
      expect(pageErrors).toEqual([]);
      await ann.context().close();
      await bob.context().close();
    } finally {
      await proxy.close();
      await direct.close();
    }
  }, 50_000);

  it('sends a picked image that a second page shows inline, from bytes, with its alt text; history brings it to a third', async () => {
    if (!chat) throw new Error('server not started');
    const url = `${chat.server.httpUrl}/`;
    const ann = await newPage(LAPTOP);
    const bob = await newPage(PHONE);
    // What Bob's WebSockets receive in binary frames (MessagePack).
    const binaryFrames: Buffer[] = [];
    bob.on('websocket', (socket) => socket.on('framereceived', ({ payload }) => void (typeof payload !== 'string' && binaryFrames.push(payload))));
    await logIn(ann, url, 'Ann');
    await logIn(bob, url, 'Bob');
    await membersPanel(ann).getByText('Bob', { exact: true }).waitFor();
    const PNG = await pngFrom(ann);

    await ann.getByLabel('Image').setInputFiles({ name: 'pixels.png', mimeType: 'image/png', buffer: PNG });
    // The image waits for its description, which becomes its alt text.
    await ann.getByLabel('Describe the image').fill(ALT);
    await ann.getByRole('button', { name: 'Send' }).click();

    for (const page of [bob, ann]) {
      const img = page.getByRole('img', { name: ALT });
      await img.waitFor({ timeout: UI_TIMEOUT_MS });
      // Shown from an object URL made from the bytes, and decoded: a real image, 3 pixels wide.
      expect(await img.getAttribute('src')).toMatch(/^blob:/);
      await expect.poll(() => naturalWidth(img), { timeout: UI_TIMEOUT_MS }).toBe(3);
    }
    // The image's bytes came to Bob as they are, in a binary frame (MessagePack `bin`, not base64 text).
    expect(binaryFrames.some((frame) => frame.includes(PNG))).toBe(true);

    // Someone who opens the room later gets it from history.
    const carol = await newPage(LAPTOP);
    await logIn(carol, url, 'Carol');
    const fromHistory = carol.getByRole('img', { name: ALT });
    await fromHistory.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect.poll(() => naturalWidth(fromHistory), { timeout: UI_TIMEOUT_MS }).toBe(3);

    // The image and the composer's image controls, on the laptop layout.
    expect(await axeViolations(ann)).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('says why an image was refused, and sends nothing', async () => {
    if (!chat) throw new Error('server not started');
    const page = await newPage(LAPTOP);
    await logIn(page, `${chat.server.httpUrl}/`, 'Dana');
    // Labelled a PNG, but not one: the server checks the bytes.
    await page.getByLabel('Image').setInputFiles({ name: 'fake.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
    await page.getByLabel('Describe the image').fill('A fake');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/Image not sent: .*not a image\/png file/);
    expect(await page.getByRole('img', { name: 'A fake' }).count()).toBe(0);
    expect(await page.locator('[data-outbox-status]').count()).toBe(0);
  }, 30_000);
});
