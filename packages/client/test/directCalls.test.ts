import { describe, expect, it } from 'vitest';
import { createTRPCClient, TRPCClientError } from '@trpc/client';
import { initTRPC, tracked, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createHeraldClient } from '@herald/client';
import { createHeraldServer, heraldErrorFormatter, transformer } from '@herald/server';
import { Cleanup, pollUntil } from '@herald/test-kit';

/**
 * `client.trpc` runs calls straight on the request tracker (trpcClient.ts);
 * a tRPC client over `client.link` runs them through tRPC's link chain and
 * its own untyped client. Both must settle the same way: the same data, the
 * same errors, the same abort, the same subscription handlers and iterators.
 */
function app() {
  const started: string[] = [];
  const stopped = { count: 0 };
  const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    echo: t.procedure.input(z.object({ n: z.number() })).query(({ input }) => ({ n: input.n, at: new Date(0), tags: new Set(['a']) })),
    bytes: t.procedure.input(z.instanceof(Uint8Array)).mutation(({ input }) => Uint8Array.from(input).reverse()),
    nothing: t.procedure.query(() => undefined),
    refuse: t.procedure.mutation(() => {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'not yours' });
    }),
    count: t.procedure.input(z.object({ to: z.number(), lastEventId: z.string().nullish() })).subscription(async function* ({ input }) {
      for (let n = Number(input.lastEventId ?? 0) + 1; n <= input.to; n++) yield tracked(String(n), n);
    }),
    forever: t.procedure.subscription(async function* ({ signal }) {
      try {
        yield 'first';
        await new Promise((resolve) => signal?.addEventListener('abort', resolve));
      } finally {
        stopped.count++;
      }
    }),
    hang: t.procedure.input(z.string()).query(async ({ input, signal }) => {
      started.push(input);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return input;
    }),
  });
  return { router, started, stopped };
}

/** A server for `app()`'s router, and its two clients: `client.trpc` ('direct') and a tRPC client over `client.link` ('link'). */
async function served(cleanup: Cleanup) {
  const { router, started, stopped } = app();
  const server = await createHeraldServer({ router, port: 0, host: '127.0.0.1', createContext: () => ({}), metrics: false });
  cleanup.defer(() => server.close());
  const client = createHeraldClient<typeof router>({ url: server.url });
  cleanup.defer(() => client.close());
  const both = [
    ['direct', client.trpc],
    ['link', createTRPCClient<typeof router>({ links: [client.link] })],
  ] as const;
  return { started, stopped, both };
}

async function outcome(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { data: await call() };
  } catch (error) {
    expect(error).toBeInstanceOf(TRPCClientError);
    const clientError = error as TRPCClientError<never>;
    return { message: clientError.message, data: clientError.data, cause: clientError.cause?.name };
  }
}

describe('queries and mutations on client.trpc', () => {
  it('settle as they do through client.link in a tRPC client: data, errors and aborts', async () => {
    await using cleanup = new Cleanup();
    const { started, both } = await served(cleanup);
    for (const [label, trpc] of both) {
      expect(await outcome(() => trpc.echo.query({ n: 1 })), label).toEqual({ data: { n: 1, at: new Date(0), tags: new Set(['a']) } });
      expect(await outcome(() => trpc.bytes.mutate(Uint8Array.of(1, 2, 3))), label).toEqual({ data: Uint8Array.of(3, 2, 1) });
      expect(await outcome(() => trpc.nothing.query()), label).toEqual({ data: undefined });
      expect(await outcome(() => trpc.refuse.mutate()), label).toEqual({
        message: 'not yours',
        data: expect.objectContaining({ code: 'FORBIDDEN', httpStatus: 403 }),
        cause: undefined,
      });
      expect(await outcome(() => trpc.echo.query({ n: 'one' } as never)), label).toEqual({
        message: expect.any(String),
        data: expect.objectContaining({ code: 'BAD_REQUEST', zodIssues: [expect.objectContaining({ path: ['n'] })] }),
        cause: undefined,
      });
      const controller = new AbortController();
      const aborted = outcome(() => trpc.hang.query(label, { signal: controller.signal }));
      await pollUntil(() => started.includes(label), `the ${label} query to start`);
      controller.abort();
      expect(await aborted, label).toEqual({ message: 'This operation was aborted', data: undefined, cause: 'AbortError' });
    }
  });

  it('subscribe with handlers, as an async iterator, and resume from the lastEventId of their input', async () => {
    await using cleanup = new Cleanup();
    const { stopped, both } = await served(cleanup);
    for (const [label, trpc] of both) {
      stopped.count = 0;
      const events: unknown[] = [];
      await new Promise<void>((resolve, reject) => {
        trpc.count.subscribe(
          { to: 3, lastEventId: '1' },
          {
            context: { tag: label },
            onStarted: ({ context }) => events.push(['started', context]),
            onData: (value) => events.push(['data', value]),
            onError: reject,
            onComplete: () => resolve(),
          },
        );
      });
      expect(events, label).toEqual([
        ['started', { tag: label }],
        ['data', { id: '2', data: 2 }],
        ['data', { id: '3', data: 3 }],
      ]);

      const iterated: unknown[] = [];
      const iterator = trpc.count.subscribe({ to: 2 });
      for await (const value of iterator) iterated.push(value);
      expect(iterated, label).toEqual([
        { id: '1', data: 1 },
        { id: '2', data: 2 },
      ]);
      expect(() => iterator[Symbol.asyncIterator](), label).toThrow('only be iterated once');

      // An abort completes a subscription's handlers; unsubscribe stops it with no further handler call.
      const controller = new AbortController();
      const ended = new Promise<unknown[]>((resolve) => {
        const seen: unknown[] = [];
        trpc.forever.subscribe(undefined, {
          signal: controller.signal,
          onData: (value) => {
            seen.push(value);
            controller.abort();
          },
          onComplete: () => resolve(seen),
        });
      });
      expect(await ended, label).toEqual(['first']);
      await pollUntil(() => stopped.count === 1, `the aborted ${label} subscription to stop on the server`);
      let after = 0;
      const subscription = trpc.forever.subscribe(undefined, {
        onData: () => subscription.unsubscribe(),
        onComplete: () => after++,
        onError: () => after++,
      });
      await pollUntil(() => stopped.count === 2, `the unsubscribed ${label} subscription to stop on the server`);
      expect(after, label).toBe(0);
    }
  });

  it('reach nested procedures (one named query too) with the same paths as tRPC, and send plain and superjson inputs alike', async () => {
    await using cleanup = new Cleanup();
    const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
    const router = t.router({
      search: t.router({ query: t.procedure.input(z.unknown()).query(({ input }) => input) }),
    });
    const server = await createHeraldServer({ router, port: 0, host: '127.0.0.1', createContext: () => ({}), metrics: false });
    cleanup.defer(() => server.close());
    const client = createHeraldClient<typeof router>({ url: server.url });
    cleanup.defer(() => client.close());
    const shared = { k: 1 };
    const inputs: unknown[] = [
      { id: 1, text: 'plain', tags: ['a'], ok: true, none: null },
      { at: new Date(5), missing: undefined, big: 10n, n: -0, nan: Number.NaN },
      { one: shared, two: shared },
      [1, 'two', [3]],
      'text',
    ];
    for (const input of inputs) expect(await client.trpc.search.query.query(input)).toEqual(input);
    // The same proxy for the same path on every read, and the untyped client where tRPC's getUntypedClient looks.
    expect(client.trpc.search.query).toBe(client.trpc.search.query);
    expect((client.trpc as unknown as Record<symbol, unknown>)[Symbol.for('trpc_untypedClient')]).toHaveProperty('query');
  });

  it('refuse a path that does not end in a call, and is not a promise', async () => {
    await using cleanup = new Cleanup();
    const client = createHeraldClient<ReturnType<typeof app>['router']>({ url: 'ws://127.0.0.1:1' });
    cleanup.defer(() => client.close());
    expect(() => (client.trpc.echo as unknown as () => void)()).toThrow("client.trpc.echo() is not a call: end a procedure's path with .query(), .mutate() or .subscribe()");
    expect((client.trpc as unknown as { then?: unknown }).then).toBeUndefined();
    expect(await Promise.resolve(client.trpc)).toBe(client.trpc);
  });
});
