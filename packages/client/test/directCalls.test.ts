import { describe, expect, it } from 'vitest';
import { createTRPCClient, TRPCClientError } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { createHeraldClient } from '@herald/client';
import { createHeraldServer, heraldErrorFormatter, transformer } from '@herald/server';
import { Cleanup, pollUntil } from '@herald/test-kit';

/**
 * `client.trpc` runs queries and mutations straight on the request tracker
 * (HeraldUntypedClient); a tRPC client over `client.link` runs them through
 * tRPC's link chain. Both must settle the same way: the same data, the same
 * errors, the same abort.
 */
function app() {
  const started: string[] = [];
  const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
  const router = t.router({
    echo: t.procedure.input(z.object({ n: z.number() })).query(({ input }) => ({ n: input.n, at: new Date(0), tags: new Set(['a']) })),
    bytes: t.procedure.input(z.instanceof(Uint8Array)).mutation(({ input }) => Uint8Array.from(input).reverse()),
    nothing: t.procedure.query(() => undefined),
    refuse: t.procedure.mutation(() => {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'not yours' });
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
  return { router, started };
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
    const { router, started } = app();
    const server = await createHeraldServer({ router, port: 0, host: '127.0.0.1', createContext: () => ({}), metrics: false });
    cleanup.defer(() => server.close());
    const client = createHeraldClient<typeof router>({ url: server.url });
    cleanup.defer(() => client.close());
    const viaLink = createTRPCClient<typeof router>({ links: [client.link] });

    for (const direct of [true, false]) {
      const trpc = direct ? client.trpc : viaLink;
      const label = direct ? 'direct' : 'link';
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
});
