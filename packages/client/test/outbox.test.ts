import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHeraldClient, heraldCodeOf, type OutboxOutcome } from '@herald/client';
import { fileStorage } from '@herald/client/file';
import { createPersistence, memoryStorage, type HeraldStorage, type PersistenceOptions } from '@herald/client/persistence';
import { createFaultProxy, type FaultProxy } from '@herald/server/testing';
import { Cleanup, FAST_BACKOFF, pollUntil, withTimeout } from '@herald/test-kit';
import { startLedgerServer, type LedgerRouter } from './helpers/ledgerApp.js';

function ledgerClient(url: string, storage: HeraldStorage, options: PersistenceOptions = {}) {
  return createHeraldClient<LedgerRouter>({ url, backoff: FAST_BACKOFF, persistence: createPersistence(storage, options) });
}

/** Records every outcome an outbox reports. */
function outcomesOf(client: { outbox: { onSettled(listener: (outcome: OutboxOutcome) => void): () => void } }): OutboxOutcome[] {
  const outcomes: OutboxOutcome[] = [];
  client.outbox.onSettled((outcome) => outcomes.push(outcome));
  return outcomes;
}

/** The idempotency keys of the mutations a proxy forwarded to the server. */
function sentKeys(proxy: FaultProxy): string[] {
  const keys: string[] = [];
  proxy.drop('toServer', (frame) => {
    if (frame.opcode !== 1) return false;
    for (const match of frame.payload.toString().matchAll(/"idempotencyKey":"([^"]+)"/g)) keys.push(match[1]!);
    return false;
  });
  return keys;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('durable outbox', () => {
  it('records a mutation, resolves the call, reports the outcome once and leaves storage empty', async () => {
    await using cleanup = new Cleanup();
    const server = cleanup.add(await startLedgerServer());
    const storage = memoryStorage();
    const client = cleanup.add(ledgerClient(server.url, storage));
    const outcomes = outcomesOf(client);
    const result = await client.trpc.write.mutate({ book: 'a', n: 1 });
    expect(result.n).toBe(1);
    expect(result.at).toBeInstanceOf(Date);
    expect(outcomes.map((o) => o.type)).toEqual(['success']);
    expect(outcomes[0]).toMatchObject({ type: 'success', result: { n: 1 } });
    await pollUntil(async () => (await storage.keys('outbox/')).length === 0, 'storage emptied');
    expect(client.outbox.entries).toEqual([]);
  });

  it('a server error is the outcome: the entry stays failed across a reload until retried or discarded', async () => {
    await using cleanup = new Cleanup();
    const server = cleanup.add(await startLedgerServer());
    const storage = memoryStorage();
    const first = ledgerClient(server.url, storage);
    const outcomes = outcomesOf(first);
    await expect(first.trpc.write.mutate({ book: 'a', n: -1 })).rejects.toThrow(/must not be negative/);
    expect(outcomes.map((o) => o.type)).toEqual(['error']);
    expect(first.outbox.entries.map((e) => [e.state, e.error?.code])).toEqual([['failed', 'BAD_REQUEST']]);
    await first.close();

    const second = cleanup.add(ledgerClient(server.url, storage));
    await second.outbox.ready;
    expect(second.outbox.entries.map((e) => [e.path, e.input, e.state])).toEqual([['write', { book: 'a', n: -1 }, 'failed']]);
    await second.outbox.discard(second.outbox.entries[0]!.key);
    expect(second.outbox.entries).toEqual([]);
    expect(await storage.keys('outbox/')).toEqual([]);
  });

  it('mutations written offline survive the client, and the next client sends each once, in order, with its outcome', async () => {
    await using cleanup = new Cleanup();
    const server = cleanup.add(await startLedgerServer());
    const proxy = cleanup.add(await createFaultProxy({ target: { port: server.server.port } }));
    const directory = await mkdtemp(join(tmpdir(), 'herald-outbox-'));
    cleanup.defer(() => rm(directory, { recursive: true, force: true }));
    proxy.refuse();
    const offline = ledgerClient(proxy.url('/ws'), fileStorage({ directory }));
    const calls = [1, 2, 3].map((n) => offline.trpc.write.mutate({ book: 'b', n }).catch((error: unknown) => error));
    await pollUntil(() => offline.outbox.entries.length === 3, 'three entries recorded');
    expect(offline.outbox.entries.map((e) => (e.input as { n: number }).n)).toEqual([1, 2, 3]);
    await offline.close(); // the page goes away
    for (const call of calls) expect(heraldCodeOf(await call)).toBe('CLIENT_CLOSED');
    expect(server.app.runs.size).toBe(0);

    proxy.accept();
    const next = cleanup.add(ledgerClient(proxy.url('/ws'), fileStorage({ directory })));
    const outcomes = outcomesOf(next);
    await pollUntil(() => outcomes.length === 3, 'three outcomes');
    expect(outcomes.map((o) => o.type === 'success' && (o.result as { n: number }).n)).toEqual([1, 2, 3]);
    expect([...server.app.runs.entries()]).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
    expect((await server.app.ledger.history('b')).messages.map((m) => m.message.n)).toEqual([1, 2, 3]);
  });

  it('an answer lost after the server stored it: the next client resends with the same key and gets the first result', async () => {
    await using cleanup = new Cleanup();
    const server = cleanup.add(await startLedgerServer());
    const proxy = cleanup.add(await createFaultProxy({ target: { port: server.server.port } }));
    const storage = memoryStorage();
    const first = ledgerClient(proxy.url('/ws'), storage);
    await first.outbox.ready;
    proxy.drop('toClient', (frame) => frame.opcode === 1 && frame.payload.toString().includes('"n":7'));
    const call = first.trpc.write.mutate({ book: 'c', n: 7 }).catch((error: unknown) => error);
    await pollUntil(() => server.app.runs.get(7) === 1, 'the server ran it');
    await first.close();
    expect(heraldCodeOf(await call)).toBe('CLIENT_CLOSED');
    proxy.drop('toClient', null);

    const second = cleanup.add(ledgerClient(proxy.url('/ws'), storage));
    const outcomes = outcomesOf(second);
    await pollUntil(() => outcomes.length === 1, 'one outcome');
    expect(outcomes[0]!.type).toBe('success');
    expect(server.app.runs.get(7)).toBe(1);
    expect((await server.app.ledger.history('c')).messages.map((m) => m.message.n)).toEqual([7]);
  });

  it('two clients on one storage never send the same entry; entries of a closed one are taken over by the other', async () => {
    await using cleanup = new Cleanup();
    const server = cleanup.add(await startLedgerServer());
    const proxyA = cleanup.add(await createFaultProxy({ target: { port: server.server.port } }));
    const proxyB = cleanup.add(await createFaultProxy({ target: { port: server.server.port } }));
    const keysA = sentKeys(proxyA);
    const keysB = sentKeys(proxyB);
    const storage = memoryStorage();
    const options = { claimIntervalMs: 50 };
    proxyA.refuse();
    const a = ledgerClient(proxyA.url('/ws'), storage, options);
    const b = cleanup.add(ledgerClient(proxyB.url('/ws'), storage, options));
    const outcomesB = outcomesOf(b);
    const written = [...Array(20).keys()].map((n) => a.trpc.write.mutate({ book: 'd', n }).catch(() => undefined));
    for (let n = 20; n < 40; n++) void b.trpc.write.mutate({ book: 'd', n });
    await pollUntil(() => a.outbox.entries.length === 20 && outcomesB.length === 20, "a's entries recorded, b's settled");
    // b scanned the storage several times meanwhile and left a's entries alone.
    await pollUntil(async () => (await storage.keys('outbox/')).length === 20, "only a's entries left in storage");
    expect(keysA).toEqual([]);
    await a.close();
    await Promise.all(written);
    await pollUntil(() => outcomesB.length === 40, "b sent a's entries", { timeoutMs: 10_000 });
    expect(new Set(keysB).size).toBe(40);
    expect(keysA).toEqual([]);
    expect([...server.app.runs.values()].every((count) => count === 1)).toBe(true);
    expect(server.app.runs.size).toBe(40);
    expect((await server.app.ledger.history('d')).messages.map((m) => m.message.n).slice(20)).toEqual([...Array(20).keys()]);
  });

  it('an entry older than maxAgeMs is reported expired and not sent', async () => {
    await using cleanup = new Cleanup();
    const server = cleanup.add(await startLedgerServer());
    const proxy = cleanup.add(await createFaultProxy({ target: { port: server.server.port } }));
    const keys = sentKeys(proxy);
    const storage = memoryStorage();
    // Only Date is faked: sockets and timers run as usual; the clock jumps past the window between two clients.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
    proxy.refuse();
    const old = ledgerClient(proxy.url('/ws'), storage, { maxAgeMs: 60_000 });
    void old.trpc.write.mutate({ book: 'e', n: 1 }).catch(() => undefined);
    await pollUntil(() => old.outbox.entries.length === 1, 'entry recorded');
    await old.close();
    vi.setSystemTime(Date.now() + 60_001);
    proxy.accept();

    const next = cleanup.add(ledgerClient(proxy.url('/ws'), storage, { maxAgeMs: 60_000 }));
    const outcomes = outcomesOf(next);
    await next.outbox.ready;
    expect(outcomes.map((o) => o.type)).toEqual(['expired']);
    expect(next.outbox.entries.map((e) => [e.state, e.error?.heraldCode])).toEqual([['failed', 'OUTBOX_EXPIRED']]);
    // The client is up (a new mutation goes through), and sent nothing of the expired entry.
    expect(await withTimeout(next.trpc.write.mutate({ book: 'e', n: 2 }), 5_000)).toMatchObject({ n: 2 });
    expect(server.app.runs.has(1)).toBe(false);
    expect(keys).toHaveLength(1);

    // retry sends it under a new key
    const key = await next.outbox.retry(next.outbox.entries[0]!.key);
    await pollUntil(() => outcomes.length === 3, 'retried entry settled');
    expect(outcomes[2]).toMatchObject({ type: 'success', entry: { key } });
    expect(server.app.runs.get(1)).toBe(1);
  });

  it('a subscription made again on the same storage resumes from the stored position: no gap, no duplicate', async () => {
    await using cleanup = new Cleanup();
    const server = cleanup.add(await startLedgerServer());
    const storage = memoryStorage();
    const first = ledgerClient(server.url, storage);
    const seen: number[] = [];
    first.trpc.entries.subscribe(
      { book: 'f' },
      {
        onData: (event) => {
          if (event.data.type === 'message') seen.push(event.data.message.n);
        },
      },
    );
    for (const n of [1, 2, 3]) await first.trpc.write.mutate({ book: 'f', n });
    await pollUntil(() => seen.length === 3, 'three messages seen');
    await first.close();
    for (const n of [4, 5]) await server.app.ledger.publish('f', { n });

    const second = cleanup.add(ledgerClient(server.url, storage));
    const after: number[] = [];
    second.trpc.entries.subscribe(
      { book: 'f' },
      {
        onData: (event) => {
          if (event.data.type === 'message') after.push(event.data.message.n);
          if (event.data.type === 'gap') after.push(-1);
        },
      },
    );
    await second.trpc.write.mutate({ book: 'f', n: 6 });
    await pollUntil(() => after.length >= 3, 'resumed messages');
    expect(after).toEqual([4, 5, 6]);

    // `position: false` stores nothing and starts live; a named position is its own.
    const fresh: number[] = [];
    second.trpc.entries.subscribe({ book: 'f' }, { context: { position: 'other' }, onData: (event) => event.data.type === 'message' && fresh.push(event.data.message.n) });
    await pollUntil(async () => (await storage.get('position/other')) !== undefined, 'named position stored');
    await second.trpc.write.mutate({ book: 'f', n: 7 });
    await pollUntil(() => fresh.length === 1, 'live message');
    expect(fresh).toEqual([7]);
  });

  it('a stored position that cannot be read: the subscription resumes with a gap (unknown-position), then live, never silently live', async () => {
    await using cleanup = new Cleanup();
    const server = cleanup.add(await startLedgerServer());
    const storage = memoryStorage();
    const first = ledgerClient(server.url, storage);
    const seen: number[] = [];
    first.trpc.entries.subscribe({ book: 'g' }, { onData: (event) => event.data.type === 'message' && seen.push(event.data.message.n) });
    await first.trpc.write.mutate({ book: 'g', n: 1 });
    await pollUntil(() => seen.length === 1, 'message seen');
    await first.close();
    const [positionKey] = await storage.keys('position/');
    await storage.set(positionKey!, ''); // what an empty file reads as
    await server.app.ledger.publish('g', { n: 2 }); // missed while away

    const errors: string[] = [];
    const second = cleanup.add(ledgerClient(server.url, storage, { onError: (error) => errors.push(error.message) }));
    const after: (number | string)[] = [];
    second.trpc.entries.subscribe(
      { book: 'g' },
      {
        onData: (event) => {
          if (event.data.type === 'message') after.push(event.data.message.n);
          if (event.data.type === 'gap') after.push(event.data.reason);
        },
      },
    );
    await pollUntil(() => after.length === 1, 'gap');
    await second.trpc.write.mutate({ book: 'g', n: 3 });
    await pollUntil(() => after.length === 2, 'live message');
    expect(after).toEqual(['unknown-position', 3]);
    expect(errors).toEqual([expect.stringMatching(/cannot be read \(it is empty\)/)]);
  });
});
