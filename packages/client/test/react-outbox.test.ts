// @vitest-environment happy-dom
/** `useOutbox`, rendered for real (react-dom in happy-dom) against a Herald server through a fault proxy. */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { act, createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient } from '@tanstack/react-query';
import { createHeraldClient } from '@herald/client';
import { createPersistence, memoryStorage } from '@herald/client/persistence';
import { createHeraldReact, type OutboxState } from '@herald/client/react';
import { createFaultProxy } from '@herald/server/testing';
import { Cleanup, FAST_BACKOFF, pollUntil } from '@herald/test-kit';
import { startLedgerServer, type LedgerRouter } from './helpers/ledgerApp.js';

const { HeraldProvider, useOutbox } = createHeraldReact<LedgerRouter>();

beforeAll(() => {
  // Updates come from a real socket, outside act().
  (globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
});
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('useOutbox', () => {
  it('shows a mutation as pending while offline, drops it once sent; keeps a failed one until retried or discarded', async () => {
    const server = cleanup.add(await startLedgerServer());
    const proxy = cleanup.add(await createFaultProxy({ target: { port: server.server.port } }));
    proxy.refuse();
    const client = cleanup.add(
      createHeraldClient<LedgerRouter>({ url: proxy.url('/ws'), backoff: FAST_BACKOFF, persistence: createPersistence(memoryStorage()) }),
    );
    const seen: { current: OutboxState | null } = { current: null };
    function Probe() {
      seen.current = useOutbox();
      return null;
    }
    const root = createRoot(document.createElement('div'));
    act(() => root.render(createElement(HeraldProvider, { client, queryClient: new QueryClient() }, createElement(Probe))));
    cleanup.defer(() => act(() => root.unmount()));
    expect(seen.current?.entries).toEqual([]);

    const sent = client.trpc.write.mutate({ book: 'r', n: 1 });
    await pollUntil(() => seen.current?.pending.length === 1, 'shown as pending');
    expect(seen.current?.pending[0]).toMatchObject({ path: 'write', input: { book: 'r', n: 1 }, state: 'pending' });
    proxy.accept();
    await sent;
    await pollUntil(() => seen.current?.entries.length === 0, 'gone once sent');

    await client.trpc.write.mutate({ book: 'r', n: -1 }).catch(() => undefined);
    await pollUntil(() => seen.current?.failed.length === 1, 'shown as failed');
    expect(seen.current?.failed[0]?.error).toMatchObject({ code: 'BAD_REQUEST' });
    const failedKey = seen.current!.failed[0]!.key;
    const newKey = await seen.current!.retry(failedKey);
    expect(newKey).not.toBe(failedKey);
    await pollUntil(() => seen.current?.failed.length === 1 && seen.current.failed[0]!.key === newKey, 'failed again under the new key');
    await seen.current!.discard(newKey);
    await pollUntil(() => seen.current?.entries.length === 0, 'discarded');
  });
});
