import { afterEach, describe, expect, it } from 'vitest';
import { initTRPC } from '@trpc/server';
import { createHeraldClient, type HeraldClient } from '@herald/client';
import { createHeraldServer, heraldErrorFormatter, transformer, type HeraldServer } from '@herald/server';
import { pollUntil } from '@herald/test-kit';

/**
 * Stock tRPC never aborts a query's or mutation's `signal`; Herald does when
 * the client stops waiting or the socket closes, so long work stops early.
 */
function cancellableApp() {
  const started: string[] = [];
  const aborted: string[] = [];
  const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    /** Runs until its signal aborts (bounded at 10 s, so a broken test cannot hang). */
    work: t.procedure.input((value) => String(value)).query(async ({ input, signal }) => {
      started.push(input);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          aborted.push(input);
          resolve();
        });
      });
      return input;
    }),
  });
  return { router, started, aborted };
}

describe('cancellation', () => {
  let server: HeraldServer;
  let client: HeraldClient<ReturnType<typeof cancellableApp>['router']>;
  afterEach(async () => {
    await client?.close();
    await server?.close();
  });

  async function setUp() {
    const app = cancellableApp();
    server = await createHeraldServer({ router: app.router, port: 0, host: '127.0.0.1', createContext: () => ({}) });
    client = createHeraldClient({ url: server.url, backoff: { initialDelayMs: 20, maxDelayMs: 50 } });
    return app;
  }

  it('aborts the procedure’s signal when the client stops waiting', async () => {
    const app = await setUp();
    const controller = new AbortController();
    const call = client.trpc.work.query('a', { signal: controller.signal }).catch((error: unknown) => error);
    await pollUntil(() => app.started.includes('a'), 'the query to start');
    controller.abort();
    await pollUntil(() => app.aborted.includes('a'), 'the server to abort it');
    expect(await call).toBeInstanceOf(Error);
  });

  it('aborts in-flight queries when the socket closes', async () => {
    const app = await setUp();
    void client.trpc.work.query('b').catch(() => undefined);
    await pollUntil(() => app.started.includes('b'), 'the query to start');
    await client.close();
    await pollUntil(() => app.aborted.includes('b'), 'the server to abort it');
  });
});
