/**
 * ClusterStats: every node's snapshot through a shared broker, a node that
 * stops cleanly leaving at once, and a silent one leaving after 2.5 of its
 * intervals (the clock is the `now` it is handed).
 */
import { describe, expect, it } from 'vitest';
import { memoryBroker } from '@herald/server';
import { pollUntil } from '@herald/test-kit';
import { ClusterStats } from '../../src/admin/clusterStats.js';
import { NodeStats } from '../../src/admin/nodeStats.js';
import { ServerMetrics } from '../../src/observability/metrics.js';

/** Long enough that no timer fires during a test: the snapshots are the ones `start` publishes. */
const INTERVAL_MS = 60_000;

function node(broker: ReturnType<typeof memoryBroker>, nodeId: string, connections: number) {
  const metrics = new ServerMetrics(null);
  const stats = new NodeStats({
    nodeId,
    startedAt: Date.now(),
    intervalMs: INTERVAL_MS,
    connectionCount: () => connections,
    isDraining: () => false,
    metrics,
    channels: null,
  });
  return new ClusterStats(stats, broker, {
    nodeId,
    intervalMs: INTERVAL_MS,
    onError: (error) => {
      throw error;
    },
  });
}

describe('ClusterStats', () => {
  it('sees every node on the broker, and sums their figures', async () => {
    const broker = memoryBroker();
    const a = node(broker, 'a', 3);
    const b = node(broker, 'b', 4);
    await a.start();
    await b.start();
    // `a` hears `b`'s first snapshot through the broker.
    await pollUntil(() => a.snapshots().length, 'both nodes', { accept: (count) => count === 2 });
    const view = await a.view();
    expect(view.nodes.map((n) => [n.nodeId, n.connections])).toEqual([
      ['a', 3],
      ['b', 4],
    ]);
    expect(view.totals.connections).toBe(7);
    await b.stop();
    expect(a.snapshots().map((s) => s.nodeId)).toEqual(['a']);
    await a.stop();
    await broker.close();
  });

  it('drops a silent node after 2.5 of its intervals', async () => {
    const broker = memoryBroker();
    const a = node(broker, 'a', 0);
    const b = node(broker, 'b', 0);
    await a.start();
    await b.start();
    await pollUntil(() => a.snapshots().length, 'both nodes', { accept: (count) => count === 2 });
    const heardAt = Date.now();
    expect(a.snapshots(heardAt + 2.4 * INTERVAL_MS).map((s) => s.nodeId)).toContain('b');
    expect(a.snapshots(heardAt + 2.6 * INTERVAL_MS + 1_000).map((s) => s.nodeId)).not.toContain('b');
    await a.stop();
    await b.stop();
    await broker.close();
  });
});
