/**
 * Time and truth for calls (issue 32, item 8): a server that answers the
 * heartbeat but never a call cannot leave one pending forever
 * (`callTimeoutMs`), and a mutation that was sent and got no answer fails
 * with `OUTCOME_UNKNOWN` and its idempotency key, never with
 * `OFFLINE_TIMEOUT` ("not sent"); retried with that key, a Herald server runs
 * it once. Real sockets on port 0; waits follow answers and connection states.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient, heraldCodeOf } from '@herald/client';
import { Cleanup, FAST_BACKOFF, pollUntil, trpcErrorOf, type HardeningRouter } from '@herald/test-kit';
import { startHostileServer } from './helpers/hostileServer.js';
import { startLedgerServer, type LedgerRouter } from './helpers/ledgerApp.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('callTimeoutMs against a server that answers PING and nothing else', () => {
  it('fails the query and the mutation with OUTCOME_UNKNOWN (the mutation with its key), asks the server to stop them, and keeps the connection', async () => {
    const requested: number[] = [];
    const server = await startHostileServer((request) => {
      requested.push(request.id);
      return []; // never answers a call; PING still gets PONG
    });
    cleanup.defer(() => server.close());
    const client = cleanup.add(
      createHeraldClient<HardeningRouter>({
        url: server.url,
        backoff: FAST_BACKOFF,
        callTimeoutMs: 300,
        // Pings flow all along (every 50 ms), each answered: the connection never looks dead.
        heartbeat: { pingIntervalMs: 50, pongTimeoutMs: 1_000 },
      }),
    );
    const statuses: string[] = [];
    cleanup.defer(client.connection.subscribe((state) => statuses.push(state.status)));

    const [mutationError, queryError] = await Promise.all([
      trpcErrorOf(client.trpc.publish.mutate({ stream: 's', n: 1 })),
      trpcErrorOf(client.trpc.add.query({ a: 1, b: 2 })),
    ]);
    expect(heraldCodeOf(mutationError)).toBe('OUTCOME_UNKNOWN');
    expect(mutationError.data?.code).toBe('TIMEOUT');
    expect(typeof (mutationError.data as { idempotencyKey?: unknown } | undefined)?.idempotencyKey).toBe('string');
    expect(mutationError.message).toMatch(/got no answer.*retry it with the same idempotency key/);
    expect(heraldCodeOf(queryError)).toBe('OUTCOME_UNKNOWN');
    expect(queryError.message).toMatch(/can simply be retried/);
    // Each call was sent once, and the server was asked to stop both.
    expect(requested.toSorted()).toEqual([1, 2]);
    await pollUntil(() => server.stopped.length === 2, 'both calls stopped on the server');
    expect(server.stopped.toSorted()).toEqual([1, 2]);
    expect(statuses).not.toContain('reconnecting');
  });
});

describe('a retry with the key of an OUTCOME_UNKNOWN mutation', () => {
  it('passes context.idempotencyKey: a Herald server runs the mutation once and answers both with its first result', async () => {
    const server = cleanup.add(await startLedgerServer());
    const client = cleanup.add(createHeraldClient<LedgerRouter>({ url: server.url, backoff: FAST_BACKOFF }));
    const first = await client.trpc.write.mutate({ book: 'a', n: 7 }, { context: { idempotencyKey: 'same-key' } });
    const again = await client.trpc.write.mutate({ book: 'a', n: 7 }, { context: { idempotencyKey: 'same-key' } });
    expect(again).toEqual(first);
    expect(server.app.runs.get(7)).toBe(1);
  });
});
