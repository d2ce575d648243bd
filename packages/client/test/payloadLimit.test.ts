/**
 * A call the server refuses for its size (issue 32, item 5): a 2 MiB input
 * against a 1 MiB `limits.maxPayloadBytes` makes a Herald server close the
 * socket with 1009. The call fails once with `PAYLOAD_TOO_LARGE`, is never
 * resent (so no later socket dies of it), and later calls go through; the
 * outbox records the entry failed, with the reason, across a reload. Real
 * servers on port 0; every wait follows an answer or the connection state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient, heraldCodeOf, type ConnectionState, type ConnectionStateSource, type OutboxOutcome } from '@herald/client';
import { createPersistence, memoryStorage } from '@herald/client/persistence';
import type { Authenticate } from '@herald/server';
import { Cleanup, FAST_BACKOFF, recordChannel, startHardeningServer, trpcErrorOf, type HardeningRouter, type TestUser } from '@herald/test-kit';
import { startLedgerServer, type LedgerRouter } from './helpers/ledgerApp.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const LIMIT_BYTES = 1_048_576;
const OVERSIZED = 'x'.repeat(2 * LIMIT_BYTES);
const WAIT_MS = 10_000;

/** The statuses a connection moves through, each run of one status counted once. */
function recordStatuses(source: ConnectionStateSource): ConnectionState['status'][] {
  const statuses: ConnectionState['status'][] = [source.current.status];
  cleanup.defer(
    source.subscribe((state) => {
      if (statuses.at(-1) !== state.status) statuses.push(state.status);
    }),
  );
  return statuses;
}

describe('a call over the server frame limit (1009)', () => {
  it('fails once with PAYLOAD_TOO_LARGE, is not resent, and later calls and subscriptions still work', async () => {
    let upgrades = 0;
    const authenticate: Authenticate<TestUser> = () => {
      upgrades++;
      return { id: 'u' };
    };
    const { server } = cleanup.add(await startHardeningServer({ authenticate, limits: { maxPayloadBytes: LIMIT_BYTES } }));
    const client = cleanup.add(createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF }));
    // A subscription proves every socket to the client (it answers on it), as in the reported storm.
    const recorded = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 's' }, handlers));
    cleanup.defer(() => recorded.unsubscribe());
    await recorded.waitForLive();
    const statuses = recordStatuses(client.connection);

    const error = await trpcErrorOf(client.trpc.publish.mutate({ stream: 's', n: 1, pad: OVERSIZED }));
    expect(heraldCodeOf(error)).toBe('PAYLOAD_TOO_LARGE');
    expect(error.data?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.message).toMatch(/refused this call for its size.*1009.*not sent again/);

    // The next call goes out on the next socket and is answered: the oversized one did not come back to kill it.
    await expect(client.trpc.add.query({ a: 1, b: 2 })).resolves.toBe(3);
    await expect(client.trpc.publish.mutate({ stream: 's', n: 2 })).resolves.toBeDefined();
    expect(await recorded.waitForMessages(1, WAIT_MS)).toEqual([{ n: 2 }]);
    expect(upgrades).toBe(2);
    expect(statuses).toEqual(['open', 'reconnecting', 'open']);
  });

  it('in a batched frame, only the oversized call fails; the calls batched with it are resent and answered', async () => {
    const { server } = cleanup.add(await startHardeningServer({ limits: { maxPayloadBytes: LIMIT_BYTES } }));
    const client = cleanup.add(createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF }));
    await expect(client.trpc.add.query({ a: 0, b: 0 })).resolves.toBe(0);
    // One tick: the first call goes alone, the next two in one frame, which the server refuses.
    const [first, oversized, batched] = await Promise.allSettled([
      client.trpc.add.query({ a: 1, b: 2 }),
      client.trpc.publish.mutate({ stream: 's', n: 1, pad: OVERSIZED }),
      client.trpc.add.query({ a: 3, b: 4 }),
    ]);
    expect(first).toEqual({ status: 'fulfilled', value: 3 });
    expect(batched).toEqual({ status: 'fulfilled', value: 7 });
    expect(oversized.status).toBe('rejected');
    expect(heraldCodeOf((oversized as PromiseRejectedResult).reason)).toBe('PAYLOAD_TOO_LARGE');
  });

  it('the outbox records the entry failed with the reason, keeps it failed across a reload, and sends later entries', async () => {
    const server = cleanup.add(await startLedgerServer({ maxPayloadBytes: LIMIT_BYTES }));
    const storage = memoryStorage();
    const first = createHeraldClient<LedgerRouter>({ url: server.url, backoff: FAST_BACKOFF, persistence: createPersistence(storage) });
    const outcomes: OutboxOutcome[] = [];
    first.outbox.onSettled((outcome) => outcomes.push(outcome));

    const error = await trpcErrorOf(first.trpc.write.mutate({ book: OVERSIZED, n: 1 }));
    expect(heraldCodeOf(error)).toBe('PAYLOAD_TOO_LARGE');
    await expect(first.trpc.write.mutate({ book: 'a', n: 2 })).resolves.toMatchObject({ n: 2 });
    expect(outcomes.map((outcome) => outcome.type)).toEqual(['error', 'success']);
    expect(outcomes[0]).toMatchObject({ type: 'error', error: { heraldCode: 'PAYLOAD_TOO_LARGE', code: 'PAYLOAD_TOO_LARGE' } });
    const [failed] = first.outbox.entries;
    expect(first.outbox.entries).toHaveLength(1);
    expect(failed).toMatchObject({ state: 'failed', error: { heraldCode: 'PAYLOAD_TOO_LARGE' } });
    await first.close();

    // A reload: the failed entry is loaded as failed and not sent; the new client's socket stays up.
    const second = cleanup.add(createHeraldClient<LedgerRouter>({ url: server.url, backoff: FAST_BACKOFF, persistence: createPersistence(storage) }));
    await second.outbox.ready;
    const statuses = recordStatuses(second.connection);
    await expect(second.trpc.write.mutate({ book: 'a', n: 3 })).resolves.toMatchObject({ n: 3 });
    expect(second.outbox.entries.map((entry) => [entry.key, entry.state, entry.error?.heraldCode])).toEqual([[failed!.key, 'failed', 'PAYLOAD_TOO_LARGE']]);
    expect(statuses).not.toContain('reconnecting');
    expect(server.app.runs.get(1)).toBeUndefined();
  });
});
