/**
 * Sessions for the whole life of the demo, in Chromium, against the real demo
 * process (`examples/chat-server/src/main.ts`, as `pnpm start` runs it):
 * without `AUTH_SECRET` a restart keeps people signed in (the development
 * secret file), a server with another secret sends them to the sign-in page,
 * and with `TOKEN_TTL_S` of a few seconds two people chat across several
 * token lifetimes on the sockets they opened, the app refreshing in-band.
 * Chromium and the shared helpers: ./helpers/browser.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { decodeJwt } from 'jose';
import { Cleanup, kill, metricValue, scrape, spawnTs } from '@herald/test-kit';
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
  messagesWithText,
  missingChromium,
  RECOVERY_TIMEOUT_MS,
  send,
  skipBrowserTests,
  storedToken,
  UI_TIMEOUT_MS,
} from './helpers/browser.js';

if (skipBrowserTests) console.warn(`[chat-web session test] skipped: ${missingChromium}`);

const DEMO_MAIN = 'examples/chat-server/src/main.ts';

interface Demo {
  readonly child: ChildProcess;
  readonly port: number;
  readonly httpUrl: string;
  output(): string;
}

describe.skipIf(skipBrowserTests)('demo sessions in Chromium', () => {
  let outDir = '';
  let workDir = '';
  let browser: Browser | null = null;
  const cleanup = new Cleanup();
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium); // CI: a missing browser fails the run
    outDir = mkdtempSync(join(tmpdir(), 'herald-chat-web-'));
    await buildWebApp(outDir);
    browser = await launchChromium();
  }, BUILD_TIMEOUT_MS + 20_000);

  afterEach(async () => {
    await cleanup.run();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    workDir = '';
  });

  afterAll(async () => {
    await browser?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  /** The demo process serving the built app, its development secret in `workDir`. */
  async function startDemo(env: { PORT?: string; AUTH_SECRET?: string; TOKEN_TTL_S?: string } = {}): Promise<Demo> {
    const { child, output } = await spawnTs(DEMO_MAIN, [], {
      ready: /listening: WebSocket ws:\/\/\S+/,
      // AUTH_SECRET empty unless given: the development secret is the point here. REDIS_URL empty (CI
      // sets one): each demo keeps its rooms in memory, so no test reads another's messages.
      env: { PORT: '0', AUTH_SECRET: '', TOKEN_TTL_S: '', REDIS_URL: '', STATIC_DIR: outDir, DEV_SECRET_FILE: join(workDir, '.dev-secret'), ...env },
    });
    cleanup.defer(() => kill(child));
    const port = Number(/listening: WebSocket ws:\/\/[^:]+:(\d+)\//.exec(output())?.[1]);
    expect(port).toBeGreaterThan(0);
    return { child, port, httpUrl: `http://127.0.0.1:${port}`, output };
  }

  /** Stops the demo as an operator does (SIGTERM: drain, exit). */
  async function stopDemo(demo: Demo): Promise<void> {
    await kill(demo.child, 'SIGTERM');
  }

  async function newPage(viewport: { width: number; height: number }): Promise<Page> {
    const page = await openPage(browser, viewport, pageErrors);
    cleanup.defer(() => page.context().close());
    return page;
  }

  it('stays signed in across a restart without AUTH_SECRET; a server with another secret shows the sign-in page', async () => {
    workDir = mkdtempSync(join(tmpdir(), 'herald-demo-'));
    const secretFile = join(workDir, '.dev-secret');
    const first = await startDemo();
    expect(first.output()).toContain(`development secret just written to ${secretFile} (set AUTH_SECRET to override it)`);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);

    const ann = await newPage(LAPTOP);
    const url = `${first.httpUrl}/`;
    await logIn(ann, url, 'Ann');
    await send(ann, 'Before the restart');
    await expectCount(messagesWithText(ann, 'Before the restart'), 1);

    await stopDemo(first);
    await expect.poll(() => banner(ann).textContent(), { timeout: UI_TIMEOUT_MS }).toMatch(/Reconnecting…/);
    const second = await startDemo({ PORT: String(first.port) });
    expect(second.output()).toContain(`development secret kept in ${secretFile}`);

    // Same secret, so the same token is good: the page reconnects signed in and can send.
    await expect.poll(() => banner(ann).getAttribute('data-connection'), { timeout: RECOVERY_TIMEOUT_MS }).toBe('open');
    expect(await ann.getByLabel('Name').count()).toBe(0);
    await send(ann, 'After the restart');
    await expectCount(messagesWithText(ann, 'After the restart'), 1);
    await expectCount(ann.locator('[data-outbox-status]'), 0);

    // A server that signs with another secret refuses the token: the sign-in page, with a plain message.
    await stopDemo(second);
    await startDemo({ PORT: String(first.port), AUTH_SECRET: 'another-secret-0123456789abcdef-0123' });
    await ann.getByLabel('Name').waitFor({ timeout: RECOVERY_TIMEOUT_MS });
    await ann.getByRole('alert').filter({ hasText: 'Your session is no longer valid. Please log in again.' }).waitFor();
    expect(await storedToken(ann)).toBeNull();
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('with TOKEN_TTL_S=3, two people chat across four token lifetimes on the sockets they opened, tokens refreshed in-band', async () => {
    const TTL_S = 3;
    /** Four lifetimes: a connection that was not refreshed is closed 5 s (the grace) after its token expires. */
    const CHAT_MS = 4 * TTL_S * 1000;
    workDir = mkdtempSync(join(tmpdir(), 'herald-demo-'));
    const demo = await startDemo({ TOKEN_TTL_S: String(TTL_S) });
    expect(demo.output()).toContain(`tokens expire after ${TTL_S} s`);

    const url = `${demo.httpUrl}/`;
    const { ann, bob } = await annAndBob(newPage, url);
    const firstTokens = { ann: await storedToken(ann), bob: await storedToken(bob) };
    const opened = metricValue(await scrape(demo), 'herald_connections_opened_total');

    // The real clock is the point: the tokens must run out several times while they chat.
    const sent: string[] = [];
    const deadline = Date.now() + CHAT_MS;
    for (let turn = 1; Date.now() < deadline && turn <= 100; turn++) {
      const [from, to] = turn % 2 === 1 ? [ann, bob] : [bob, ann];
      const text = `Turn ${turn} from ${from === ann ? 'Ann' : 'Bob'}`;
      await send(from, text);
      sent.push(text);
      await expectCount(messagesWithText(to, text), 1);
    }
    expect(sent.length).toBeGreaterThan(4);

    // Every message once in both views, in order; nothing waiting; no reconnect.
    for (const page of [ann, bob]) {
      for (const text of sent) await expectCount(messagesWithText(page, text), 1);
      await expect.poll(() => page.locator('[data-message-id] .message__text').allTextContents()).toEqual(sent);
      await expectCount(page.locator('[data-outbox-status]'), 0);
      expect(await banner(page).getAttribute('data-connection')).toBe('open');
    }
    expect(metricValue(await scrape(demo), 'herald_connections_opened_total')).toBe(opened);

    // Both sessions hold a newer token than the one they signed in with.
    for (const [name, page] of [['ann', ann], ['bob', bob]] as const) {
      const first = firstTokens[name];
      const now = await storedToken(page);
      if (!first || !now) throw new Error(`${name} has no stored token`);
      expect(now).not.toBe(first);
      expect(decodeJwt(now).exp ?? 0).toBeGreaterThanOrEqual((decodeJwt(first).exp ?? 0) + 2 * TTL_S);
      expect(decodeJwt(now).sub).toBe(decodeJwt(first).sub);
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
