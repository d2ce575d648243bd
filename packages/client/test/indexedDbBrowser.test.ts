/**
 * indexedDbStorage in Chromium against another tab's IndexedDB upgrade
 * (issue 32, item 9). The page loads the storage's own modules
 * (`src/persistence/indexeddb.ts` and `storage.ts`, transpiled one by one
 * with TypeScript, and idb-keyval's ESM build) from a small server on port 0:
 * no bundler, and nothing of the client it does not use.
 *
 * Chromium: `apt-get install chromium`. Without it the suite fails in CI and
 * is skipped locally, with the reason printed.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, missingChromium, skipBrowserTests } from '@herald/test-kit/browser';
import type { indexedDbStorage } from '../src/persistence/indexeddb.js';

// playwright-core is test-kit's dependency, not this package's: its types come through test-kit.
type Browser = Awaited<ReturnType<typeof launchChromium>>;
type Page = Awaited<ReturnType<Browser['newPage']>>;

const TIMEOUT_MS = 15_000;
const PERSISTENCE = fileURLToPath(new URL('../src/persistence/', import.meta.url));
const IDB_KEYVAL = fileURLToPath(new URL('../node_modules/idb-keyval/dist/index.js', import.meta.url));

/** The page: the storage, loaded as a module, as `window.indexedDbStorage` (the test's own functions are rewritten by Vitest, so they cannot import). */
const PAGE = `<!doctype html><title>indexedDbStorage</title>
<script type="module">import { indexedDbStorage } from '/indexeddb.js'; window.indexedDbStorage = indexedDbStorage;</script>`;

declare const window: { indexedDbStorage: typeof indexedDbStorage };

/** `/` the page; `/idb-keyval.js`; `/<name>.js` the persistence module `<name>.ts`, transpiled. */
async function serveStorageModules(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    void (async () => {
      const name = request.url ?? '/';
      if (name === '/') {
        response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
        return;
      }
      let code: string;
      if (name === '/idb-keyval.js') code = await readFile(IDB_KEYVAL, 'utf8');
      else if (/^\/[a-zA-Z]+\.js$/.test(name)) {
        const source = await readFile(`${PERSISTENCE}${name.slice(1, -3)}.ts`, 'utf8');
        code = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
        code = code.replace(/from 'idb-keyval'/g, "from '/idb-keyval.js'");
      } else {
        response.writeHead(404).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(code);
    })().catch((error: unknown) => response.writeHead(500).end(String(error)));
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe.skipIf(skipBrowserTests)('indexedDbStorage in Chromium: another tab upgrades the database', () => {
  let browser: Browser | null = null;
  let served: { server: Server; url: string } | null = null;

  beforeAll(async () => {
    if (missingChromium) throw new Error(missingChromium);
    served = await serveStorageModules();
    browser = await launchChromium(TIMEOUT_MS);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((closed) => served?.server.close(closed));
  });

  async function freshPage(): Promise<Page> {
    const context = await browser!.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT_MS);
    await page.goto(served!.url);
    await page.waitForFunction(() => typeof window.indexedDbStorage === 'function');
    return page;
  }

  it('its connection closes on versionchange, so the upgrade is not blocked, and the next call opens the database again', async () => {
    const page = await freshPage();
    const events = await page.evaluate(async () => {
      const storageOf = window.indexedDbStorage;
      const storage = storageOf({ database: 'herald-versionchange' });
      await storage.set('outbox/a', '1'); // its connection is open now
      const seen: string[] = [];
      // Another tab opens the database at a higher version. The bound only ends a test that would otherwise hang.
      await new Promise<void>((done, fail) => {
        const request = indexedDB.open('herald-versionchange', 2);
        request.onblocked = () => seen.push('blocked');
        request.onupgradeneeded = () => seen.push('upgrade');
        request.onsuccess = () => {
          seen.push('opened at version 2');
          request.result.close();
          done();
        };
        request.onerror = () => fail(request.error);
        setTimeout(() => {
          seen.push('still waiting after 5 s');
          done();
        }, 5_000);
      });
      seen.push(`read again: ${await storage.get('outbox/a')}`);
      return seen;
    });
    expect(events).toEqual(['upgrade', 'opened at version 2', 'read again: 1']);
  });

  it("an open held up by another tab's blocked upgrade fails after openTimeoutMs, saying why, instead of hanging", async () => {
    const page = await freshPage();
    const outcome = await page.evaluate(async () => {
      const storageOf = window.indexedDbStorage;
      const opened = (request: IDBOpenDBRequest) =>
        new Promise<IDBDatabase>((done, fail) => {
          request.onsuccess = () => done(request.result);
          request.onerror = () => fail(request.error);
        });
      // An old tab: holds the database open and ignores versionchange.
      const creating = indexedDB.open('herald-blocked', 1);
      creating.onupgradeneeded = () => creating.result.createObjectStore('keyval');
      await opened(creating);
      // Another tab's upgrade, blocked by the old tab.
      let blocked = false;
      const upgrade = indexedDB.open('herald-blocked', 2);
      upgrade.onblocked = () => (blocked = true);
      // This tab.
      const storage = storageOf({ database: 'herald-blocked', openTimeoutMs: 300 });
      const result = await Promise.race([
        storage.get('outbox/a').then(
          () => 'opened',
          (error: Error) => error.message,
        ),
        new Promise<string>((done) => setTimeout(() => done('still waiting after 5 s'), 5_000)),
      ]);
      return { blocked, result };
    });
    expect(outcome.blocked).toBe(true);
    expect(outcome.result).toMatch(/IndexedDB database "herald-blocked" did not open within 300 ms: another tab is upgrading it/);
  });
  it('gives a lock back by the time its release resolves: the next taker in this page or another tab has it at once, 50 times over', async () => {
    const page = await freshPage();
    const other = await page.context().newPage();
    other.setDefaultTimeout(TIMEOUT_MS);
    await other.goto(served!.url);
    await other.waitForFunction(() => typeof window.indexedDbStorage === 'function');
    const take = (target: Page, name: string) =>
      target.evaluate(async (lock) => {
        const release = await window.indexedDbStorage({ database: 'herald-locks' }).tryLock(lock);
        if (!release) return 'refused';
        (globalThis as unknown as { held?: () => Promise<void> }).held = release;
        return 'taken';
      }, name);
    const release = (target: Page) => target.evaluate(() => (globalThis as unknown as { held: () => Promise<void> }).held());
    const outcomes = await page.evaluate(async () => {
      const storage = window.indexedDbStorage({ database: 'herald-locks' });
      const seen: string[] = [];
      for (let round = 0; round < 50; round++) {
        const release = await storage.tryLock('owner/same-page');
        if (!release) seen.push(`round ${round}: refused`);
        if (await storage.tryLock('owner/same-page')) seen.push(`round ${round}: taken twice`);
        // A client made while the closing one is still giving its lock back (not awaited): it waits for the release.
        const releasing = release?.();
        const next = await storage.tryLock('owner/same-page');
        if (!next) seen.push(`round ${round}: refused after a release under way`);
        await releasing;
        await next?.();
      }
      return seen;
    });
    expect(outcomes).toEqual([]);
    for (let round = 0; round < 50; round++) {
      expect(await take(page, 'owner/two-tabs')).toBe('taken');
      expect(await take(other, 'owner/two-tabs')).toBe('refused');
      await release(page);
      expect(await take(other, 'owner/two-tabs')).toBe('taken');
      await release(other);
    }
  });
});
