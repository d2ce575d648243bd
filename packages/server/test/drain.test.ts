import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { redisBroker } from '@herald/server/redis';
import { redisTargets } from './helpers/redisTargets.js';
import { CloseCode } from '@herald/shared';
import {
  answerTo,
  Cleanup,
  FAST_BACKOFF,
  withTimeout,
  rawSocket,
  recordChannel,
  request,
  startHardeningServer,
  testPrefix,
  upgradeStatus,
  type HardeningRouter,
  type HardeningServer,
} from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('graceful drain', () => {
  it('stops accepting at once, reports not ready, answers calls in flight, then closes', async () => {
    const { server, app } = cleanup.add(await startHardeningServer({ drainTimeoutMs: 10_000 }));
    const socket = rawSocket(server.url);
    cleanup.defer(() => socket.close());
    await socket.opened;
    socket.send(request(1, 'mutation', 'slow', { name: 'in-flight' }));
    await withTimeout(app.gates.entered('in-flight'), 5_000, 'the call to start');

    let closed = false;
    const closing = server.close().then(() => (closed = true));
    expect(server.draining).toBe(true);
    // Clients are told to move; new connections go elsewhere; the balancer sees not-ready; liveness holds.
    await socket.frame((frame) => (frame as { method?: string }).method === 'reconnect');
    expect(await upgradeStatus(server.url)).toBe(503);
    const ready = await fetch(`${server.httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
    // The old socket still serves while it drains.
    socket.send(request(2, 'query', 'add', { a: 1, b: 1 }));
    expect(await socket.frame(answerTo(2))).toMatchObject({ result: { data: { json: 2 } } });
    expect(closed).toBe(false);

    app.gates.open('in-flight');
    expect(await socket.frame(answerTo(1))).toMatchObject({ result: { data: { json: 'done in-flight' } } });
    expect((await socket.closed).code).toBe(CloseCode.GOING_AWAY);
    await closing;
    expect(closed).toBe(true);
  });

  it('gives up on calls still running after drainTimeoutMs', async () => {
    const { server, app } = cleanup.add(await startHardeningServer({ drainTimeoutMs: 200, closeTimeoutMs: 500 }));
    const socket = rawSocket(server.url);
    cleanup.defer(() => socket.close());
    socket.send(request(1, 'mutation', 'slow', { name: 'stuck' }));
    await withTimeout(app.gates.entered('stuck'), 5_000, 'the call to start');
    const started = Date.now();
    await server.close();
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(3_000);
    expect((await socket.closed).code).toBe(CloseCode.GOING_AWAY);
    expect(socket.frames.filter(answerTo(1))).toEqual([]);
  });

  it('closes at once when nothing is in flight', async () => {
    const { server } = cleanup.add(await startHardeningServer({ drainTimeoutMs: 30_000 }));
    const client = createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF });
    cleanup.add(client);
    expect(await client.trpc.add.query({ a: 1, b: 2 })).toBe(3);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe.each(await redisTargets())('drain with the Redis broker on $name', (target) => {
  it('moves a Herald client given both URLs to the other node mid-stream, and every message arrives once', async () => {
    const prefix = testPrefix();
    cleanup.defer(() => target.deletePrefix(prefix));
    const start = (nodeId: string) =>
      startHardeningServer({ drainTimeoutMs: 2_000 }, { broker: redisBroker({ ...target.options(), prefix }), nodeId, historySize: 10_000 });
    const nodes: HardeningServer[] = [cleanup.add(await start('node-a')), cleanup.add(await start('node-b'))];

    const client = createHeraldClient<HardeningRouter>({ url: nodes.map((node) => node.server.url), backoff: FAST_BACKOFF });
    cleanup.add(client);
    const subscription = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'drain' }, handlers));
    cleanup.defer(() => subscription.unsubscribe());
    await subscription.waitForLive();
    const { nodeId } = await client.trpc.node.query();
    const draining = nodes.find((node) => node.app.herald.nodeId === nodeId);
    const staying = nodes.find((node) => node.app.herald.nodeId !== nodeId);
    if (!draining || !staying) throw new Error(`client on unknown node ${nodeId}`);

    const total = 600;
    let drained: Promise<void> | null = null;
    for (let n = 1; n <= total; n++) {
      // Published on the node that stays, as other app instances would go on publishing.
      await staying.app.numbers.publish('drain', { n });
      if (n === 200) drained = draining.server.close();
      if (n % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await drained;

    const numbers = (await subscription.waitForMessages(total, 15_000)).map((m) => m.n);
    expect(numbers).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(subscription.events.filter(({ event }) => event.type === 'gap')).toEqual([]);
    expect(await client.trpc.node.query()).toEqual({ nodeId: staying.app.herald.nodeId });
    expect(draining.server.connectionCount).toBe(0);
  });
});
