/**
 * A subscription resumed on a Redis Cluster while the master of its topic
 * fails over: it waits for the slot's new master (MOVED and CLUSTERDOWN are
 * retried, not fatal), says `reset` (the new master may lack writes the old
 * one acknowledged), and receives everything published after. A cluster of
 * the test's own; a missing redis-server or redis-cli fails the test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createHerald } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import type { ChannelEvent } from '@herald/shared';
import { Cleanup, testPrefix, withTimeout } from '@herald/test-kit';
import { startOwnCluster } from './helpers/ownRedis.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('a subscription resumed while its Redis Cluster master fails over', () => {
  it('waits for the new master, says reset, and receives everything published after', { timeout: 90_000 }, async () => {
    const cluster = await startOwnCluster(cleanup);
    const errors: unknown[] = [];
    const herald = createHerald({
      broker: redisBroker({ clusterUrls: cluster.urls, prefix: testPrefix(), onError: () => undefined }),
      onError: (error) => errors.push(error),
    });
    cleanup.defer(() => herald.close());
    const numbers = herald.channel('numbers', { key: z.string(), message: z.object({ n: z.number().int() }), history: { size: 1_000, ttlMs: 60_000 } });
    await numbers.publish('moving', { n: 1 });
    const position = await numbers.publish('moving', { n: 2 });

    const victimPort = await cluster.masterOf('{numbers:moving}');
    const victim = cluster.nodes.find((node) => node.port === victimPort);
    if (!victim) throw new Error('the master of the topic is not one of the cluster nodes');
    await victim.kill();

    // Resumed at once, while the slot has no master yet.
    const events: ChannelEvent<{ n: number }>[] = [];
    const waiters = new Set<() => void>();
    const controller = new AbortController();
    const consumed = (async () => {
      for await (const envelope of numbers.stream('moving', { lastEventId: position, signal: controller.signal })) {
        events.push(envelope[1]);
        for (const wake of [...waiters]) wake();
      }
    })();
    cleanup.defer(async () => {
      controller.abort();
      await consumed.catch(() => undefined);
    });
    const until = (accept: () => boolean, label: string) =>
      withTimeout(
        new Promise<void>((resolve) => {
          const check = () => {
            if (!accept()) return;
            waiters.delete(check);
            resolve();
          };
          waiters.add(check);
          check();
        }),
        30_000,
        label,
      );
    // The stream ends on a failure; a pending `consumed` that rejects fails here.
    const failed = consumed.then(
      () => 'ended',
      (error: unknown) => `failed: ${String(error)}`,
    );
    await Promise.race([until(() => events.some((e) => e.type === 'live'), 'the live marker'), failed.then((how) => Promise.reject(new Error(`the stream ${how}`)))]);

    // Publishes succeed again once the replica serves the slot.
    const sent: number[] = [];
    for (let n = 3; sent.length < 5 && n < 2_000; n++) {
      if (await numbers.publish('moving', { n }).then(() => true, () => false)) sent.push(n);
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(sent).toHaveLength(5);
    await until(() => sent.every((n) => events.some((e) => e.type === 'message' && e.message.n === n)), 'every publish after the failover');

    const types = events.map((e) => e.type);
    expect(types[0]).toBe('gap');
    expect(events[0]).toEqual({ type: 'gap', reason: 'reset' });
    const received = events.flatMap((e) => (e.type === 'message' ? [e.message.n] : []));
    expect(received.filter((n) => n >= 3)).toEqual(sent);
    expect(new Set(received).size).toBe(received.length);
    console.log(`[cluster resume] ${errors.length} failed attempt(s) reported while the slot moved; events: ${types.join(', ')}`);
  });
});
