/**
 * Images in the chat web app, in Chromium: Ann picks an image, describes
 * it, and sends it; Bob (another page) sees it rendered from the bytes that
 * came over the WebSocket (MessagePack, `bin`), with its alt text; a page
 * opened later gets it from history. Chromium and the shared helpers:
 * ./helpers/browser.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Locator, Page } from 'playwright-core';
import { startChatServer, type ChatServer } from '@herald/example-chat-server';
import { axeViolations } from '@herald/test-kit/axe';
import {
  BUILD_TIMEOUT_MS,
  buildWebApp,
  LAPTOP,
  launchChromium,
  logIn,
  membersPanel,
  missingChromium,
  openPage,
  PHONE,
  skipBrowserTests,
  UI_TIMEOUT_MS,
} from './helpers/browser.js';

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

if (skipBrowserTests) console.warn(`[chat-web images test] skipped: ${missingChromium}`);

/** The natural width of the image `img` shows once the browser decoded it (0 until then, or when it could not). */
function naturalWidth(img: Locator): Promise<number> {
  return img.evaluate((element) => (element as HTMLImageElement).naturalWidth);
}

describe.skipIf(skipBrowserTests)('chat images in Chromium', () => {
  let outDir = '';
  let chat: ChatServer | null = null;
  let browser: Browser | null = null;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium);
    outDir = mkdtempSync(join(tmpdir(), 'herald-chat-web-images-'));
    await buildWebApp(outDir);
    chat = await startChatServer({ port: 0, host: '127.0.0.1', staticDir: outDir, authSecret: 'images-test-secret-0123456789abcdef' });
    browser = await launchChromium();
  }, BUILD_TIMEOUT_MS + 20_000);

  afterAll(async () => {
    await browser?.close();
    await chat?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const newPage = (viewport: { width: number; height: number }): Promise<Page> => openPage(browser, viewport, pageErrors);

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
