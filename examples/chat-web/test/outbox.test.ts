/**
 * The chat web app's outbox in Chromium: messages live in the Herald client's
 * IndexedDB outbox, so a reload neither loses nor doubles them. The app is
 * served by a front (./helpers/front.ts) that keeps serving the page while the
 * chat server is down, with a fault proxy on the WebSocket path to lose the
 * answer of a send after the server stored it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startChatServer, type ChatServer } from '@herald/example-chat-server';
import { createFaultProxy, type FaultProxy } from '@herald/server/testing';
import {
  annAndBob,
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
  PHONE,
  missingChromium,
  RECOVERY_TIMEOUT_MS,
  send,
  skipBrowserTests,
  UI_TIMEOUT_MS,
} from './helpers/browser.js';
import { startFront, type Front } from './helpers/front.js';

const AUTH_SECRET = 'browser-test-secret-0123456789abcdef';
if (skipBrowserTests) console.warn(`[chat-web outbox test] skipped: ${missingChromium}`);

/** The `type` key and its `message` value as MessagePack strings (the chat web app speaks MessagePack). */
const MSGPACK_TYPE_MESSAGE = Buffer.concat([Buffer.from([0xa4]), Buffer.from('type'), Buffer.from([0xa7]), Buffer.from('message')]);
/** Whether a frame is a room's live event (`type: "message"`), in a JSON frame or a MessagePack one. */
const isLiveMessageEvent = (payload: Buffer): boolean => payload.includes('"type":"message"') || payload.includes(MSGPACK_TYPE_MESSAGE);

/** The texts of a page's settled messages, in the order shown. */
const shownTexts = (page: Page): Promise<string[]> => page.locator('[data-message-id] .message__text').allTextContents();
/** The texts of a page's unsent messages, in the order shown. */
const unsentTexts = (page: Page): Promise<string[]> => page.locator('[data-outbox-status] .message__text').allTextContents();

/**
 * Runs in each page before the app: notes the idempotency key of every
 * `chat.send` the page sends, over WebSocket (JSON text or MessagePack: the
 * key is a UUID string either way, read from the frame's text) or HTTP.
 */
function recordSentKeys(): void {
  const keys: string[] = [];
  (window as unknown as { __chatSendKeys: string[] }).__chatSendKeys = keys;
  const decoder = new TextDecoder();
  const noteFrame = (data: unknown) => {
    const text = typeof data === 'string' ? data : data instanceof ArrayBuffer || ArrayBuffer.isView(data) ? decoder.decode(data) : '';
    if (!text.includes('chat.send')) return;
    for (const match of text.matchAll(/idempotencyKey[^0-9a-f]{1,3}([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/g)) keys.push(match[1]!);
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, data) {
    noteFrame(data);
    send.call(this, data);
  };
  const fetch = window.fetch;
  window.fetch = function (input, init) {
    const url = input instanceof Request ? input.url : String(input);
    const key = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined)).get('idempotency-key');
    if (key && url.includes('chat.send')) keys.push(key);
    return fetch.call(this, input, init);
  };
}
const sentKeysOf = (page: Page): Promise<string[]> => page.evaluate(() => [...(window as unknown as { __chatSendKeys: string[] }).__chatSendKeys]);

describe.skipIf(skipBrowserTests)('chat web app outbox in Chromium', () => {
  let outDir = '';
  let port = 0;
  let chat: ChatServer | null = null;
  let proxy: FaultProxy | null = null;
  let front: Front | null = null;
  let browser: Browser | null = null;
  const pageErrors: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  const start = (listenPort: number) => startChatServer({ port: listenPort, host: '127.0.0.1', staticDir: outDir, authSecret: AUTH_SECRET });

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium); // CI: a missing browser fails the run
    outDir = mkdtempSync(join(tmpdir(), 'herald-chat-web-outbox-'));
    await buildWebApp(outDir);
    chat = await start(0);
    port = chat.server.port;
    proxy = await createFaultProxy({ target: { port } });
    const wsPort = proxy.port;
    front = await startFront({ staticDir: outDir, httpPort: () => port, wsPort: () => wsPort });
    browser = await launchChromium();
  }, BUILD_TIMEOUT_MS + 20_000);

  afterAll(async () => {
    await browser?.close();
    await front?.close();
    await proxy?.close();
    await chat?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const newPage = (viewport: { width: number; height: number }): Promise<Page> => openPage(browser, viewport, pageErrors);

  it('messages written while the server is down survive a reload: each appears once, in order, in both views', async () => {
    if (!chat || !front) throw new Error('not started');
    const { ann, bob } = await annAndBob(newPage, front.url);
    cleanups.push(() => ann.context().close(), () => bob.context().close());
    await send(ann, 'Before the outage');
    await expectCount(messagesWithText(bob, 'Before the outage'), 1);

    await chat.close();
    chat = null;
    for (const page of [ann, bob]) await expect.poll(() => banner(page).textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/Reconnecting…/);
    const written = ['Offline one', 'Offline two', 'Offline three'];
    for (const text of written) await send(ann, text);
    await expect.poll(() => unsentTexts(ann)).toEqual(written);
    await expectCount(ann.locator('[data-outbox-status="queued"]'), 3);

    // The page reloads while the server is still down: the three are still there, waiting, in order.
    await ann.reload();
    await ann.getByLabel('Message').waitFor();
    await expect.poll(() => unsentTexts(ann), { timeout: UI_TIMEOUT_MS }).toEqual(written);

    // The server comes back (with an empty memory broker: what it held before is gone, so Ann's
    // reloaded page shows only what came after; Bob's keeps what it had).
    chat = await start(port);
    for (const page of [ann, bob]) {
      for (const text of written) await expectCount(messagesWithText(page, text), 1, RECOVERY_TIMEOUT_MS);
      await expectCount(page.locator('[data-outbox-status]'), 0);
    }
    await expect.poll(() => shownTexts(ann)).toEqual(written);
    await expect.poll(() => shownTexts(bob)).toEqual(['Before the outage', ...written]);
    // Live delivery goes on, and nothing arrives twice later.
    await send(bob, 'Got all three');
    for (const page of [ann, bob]) await expectCount(messagesWithText(page, 'Got all three'), 1);
    await expect.poll(() => shownTexts(ann)).toEqual([...written, 'Got all three']);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('a send whose answer is lost after the server stored it, then a reload: the message appears once', async () => {
    if (!front || !proxy) throw new Error('not started');
    // Other names than the first test's, whose pages may still be leaving the room.
    const ann = await newPage(LAPTOP);
    const bob = await newPage(PHONE);
    cleanups.push(() => ann.context().close(), () => bob.context().close());
    await logIn(ann, front.url, 'Cleo');
    await logIn(bob, front.url, 'Dan');
    await membersPanel(ann).getByText('Dan', { exact: true }).waitFor();
    await membersPanel(bob).getByText('Cleo', { exact: true }).waitFor();
    const text = 'Answer lost on the way back';
    // The answer to chat.send carries the stored message; the room's live event (type "message") still passes.
    proxy.drop('toClient', (frame) => frame.payload.includes(text) && !isLiveMessageEvent(frame.payload));
    const dropped = proxy.stats.toClient.framesDropped;
    await send(ann, text);
    await expectCount(messagesWithText(bob, text), 1);
    await expect.poll(() => proxy!.stats.toClient.framesDropped).toBeGreaterThan(dropped);
    proxy.drop('toClient', null);

    // Reloaded before the answer came: the new page sends the entry again with the same key, and the server answers with the first result.
    await ann.reload();
    await ann.getByLabel('Message').waitFor();
    for (const page of [ann, bob]) {
      await expectCount(messagesWithText(page, text), 1, RECOVERY_TIMEOUT_MS);
      await expectCount(page.locator('[data-outbox-status]'), 0, RECOVERY_TIMEOUT_MS);
    }
    // The page's outbox is empty in IndexedDB too (the entry's outcome was reported and it was removed).
    await expect
      .poll(
        () =>
          ann.evaluate(async () => {
            const databases = await indexedDB.databases();
            const name = databases.map((d) => d.name).find((n) => n?.startsWith('herald-chat:'));
            if (!name) return -1;
            return await new Promise<number>((resolve, reject) => {
              const open = indexedDB.open(name);
              open.onerror = () => reject(open.error);
              open.onsuccess = () => {
                const keys = open.result.transaction('keyval').objectStore('keyval').getAllKeys();
                keys.onsuccess = () => {
                  resolve(keys.result.filter((key) => String(key).startsWith('outbox/')).length);
                  open.result.close();
                };
              };
            });
          }),
        { timeout: RECOVERY_TIMEOUT_MS },
      )
      .toBe(0);
    await send(bob, 'Only once, good');
    await expectCount(messagesWithText(ann, 'Only once, good'), 1);
    await expectCount(messagesWithText(bob, text), 1);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('two tabs on one outbox never send the same entry; the tab left open takes over what a closed one had not sent', async () => {
    if (!front || !proxy) throw new Error('not started');
    const tab1 = await newPage(LAPTOP);
    const bob = await newPage(PHONE);
    cleanups.push(() => tab1.context().close(), () => bob.context().close());
    // Each tab notes the idempotency key of every chat.send it puts on the wire (WebSocket frames, HTTP requests).
    await tab1.context().addInitScript(recordSentKeys);
    await logIn(tab1, front.url, 'Gus');
    await logIn(bob, front.url, 'Hal');
    // A second tab of the same signed-in user: same IndexedDB, same Web Locks.
    const session = await tab1.evaluate(() => sessionStorage.getItem('herald-chat:session'));
    const tab2 = await tab1.context().newPage();
    await tab2.addInitScript((raw) => sessionStorage.setItem('herald-chat:session', raw), session!);
    await tab2.goto(front.url);
    await tab2.getByLabel('Message').waitFor();
    await membersPanel(bob).getByText('Gus', { exact: true }).first().waitFor();

    // The server goes down; tab 1 writes; it comes back: tab 1 sends them, tab 2 leaves them alone.
    await chat!.close();
    chat = null;
    for (const page of [tab1, tab2]) await expect.poll(() => banner(page).textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/Reconnecting…/);
    const first = ['Tab one, first', 'Tab one, second', 'Tab one, third'];
    for (const text of first) await send(tab1, text);
    await expectCount(tab1.locator('[data-outbox-status="queued"]'), 3);
    chat = await start(port);
    for (const text of first) await expectCount(messagesWithText(bob, text), 1, RECOVERY_TIMEOUT_MS);
    const keysOfTab1 = await sentKeysOf(tab1);

    // Again, and tab 1 is closed before the server is back: tab 2 sends what it left. A tab that came back
    // over HTTP during the restart (transport 'auto') moves to a WebSocket within a second; wait for it, so
    // both notice the next stop at once rather than at their next HTTP heartbeat.
    for (const page of [tab1, tab2]) {
      await expect.poll(() => banner(page).getAttribute('data-transport'), { timeout: RECOVERY_TIMEOUT_MS }).toBe('websocket');
    }
    await chat.close();
    chat = null;
    await expect.poll(() => banner(tab2).textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/Reconnecting…/);
    const second = ['Left by tab one, first', 'Left by tab one, second'];
    for (const text of second) await send(tab1, text);
    await expectCount(tab1.locator('[data-outbox-status="queued"]'), 2);
    await tab1.close();
    chat = await start(port);
    for (const text of second) await expectCount(messagesWithText(bob, text), 1, RECOVERY_TIMEOUT_MS);
    for (const text of second) await expectCount(messagesWithText(tab2, text), 1, RECOVERY_TIMEOUT_MS);
    await expectCount(tab2.locator('[data-outbox-status]'), 0);

    // Five entries, five keys: tab 1 sent the first three while both tabs were open, tab 2 none of them and
    // the two it took over once tab 1 was gone. (A tab may send one key more than once: a call moves to a new
    // connection with its key; and tab 1 may have tried one of the last two against the stopped server
    // before it closed, which is why its keys are taken once the first three arrived.)
    const keysOfTab2 = await sentKeysOf(tab2);
    expect(new Set(keysOfTab1).size).toBe(3);
    expect(new Set(keysOfTab2).size).toBe(2);
    expect(keysOfTab2.filter((key) => keysOfTab1.includes(key))).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
