/**
 * `/readyz` on a Redis Cluster that is down: two of its three masters and
 * their replicas are paused (SIGSTOP) past the node timeout, so no replica can
 * take over and the master left, in a minority, says `cluster_state:fail` and
 * refuses every command (CLUSTERDOWN) while it still answers PING. Readiness
 * asks for a write (`Broker.ping`), so the server answers 503 until the nodes
 * resume and the cluster is whole, then 200. A cluster of the test's own; a
 * missing redis-server or redis-cli fails the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { initTRPC } from '@trpc/server';
import { createHerald, createHeraldServer, heraldErrorFormatter, transformer } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { Cleanup, testPrefix } from '@herald/test-kit';
import { startOwnCluster } from './helpers/ownRedis.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('a Redis Cluster that is down', () => {
  it('makes /readyz answer 503 while it is, and 200 once it is whole again', { timeout: 90_000 }, async () => {
    const cluster = await startOwnCluster(cleanup);
    const herald = createHerald({ broker: redisBroker({ clusterUrls: cluster.urls, prefix: testPrefix(), onError: () => undefined }) });
    cleanup.defer(() => herald.close());
    const t = initTRPC.create({ transformer, errorFormatter: heraldErrorFormatter });
    const server = await createHeraldServer({ router: t.router({ ping: t.procedure.query(() => 'pong') }), herald, port: 0, host: '127.0.0.1', createContext: () => ({}) });
    cleanup.defer(() => server.close());
    const readyz = async () => (await fetch(`${server.httpUrl}/readyz`)).status;
    expect(await readyz()).toBe(200);

    const [survivor, ...others] = await cluster.masters();
    const paused: number[] = [];
    for (const port of others.slice(0, 2)) paused.push(port, ...(await cluster.replicasOf(port)));
    const nodes = cluster.nodes.filter((node) => paused.includes(node.port));
    expect(nodes).toHaveLength(4);
    for (const node of nodes) node.signal('SIGSTOP');
    cleanup.defer(() => nodes.forEach((node) => node.signal('SIGCONT')));

    // The master left sees a majority gone: it still answers PING, and refuses writes.
    await expect.poll(async () => String(await cluster.command(survivor!, 'CLUSTER', 'INFO')), { timeout: 20_000, interval: 200 }).toMatch(/cluster_state:fail/);
    expect(await cluster.command(survivor!, 'PING')).toBe('PONG');
    await expect(cluster.command(survivor!, 'SET', '{survivor}:probe', '1')).rejects.toThrow(/CLUSTERDOWN/);
    await expect.poll(readyz, { timeout: 20_000, interval: 200 }).toBe(503);

    for (const node of nodes) node.signal('SIGCONT');
    await cluster.waitUntilHealthy(30_000);
    await expect.poll(readyz, { timeout: 30_000, interval: 200 }).toBe(200);
  });
});
