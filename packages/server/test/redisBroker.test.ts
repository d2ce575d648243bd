import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { redisBroker } from '@herald/server/redis';
import type { Broker, PresenceChange } from '@herald/server';
import { brokerContract } from './helpers/brokerContract.js';
import { kill, REDIS_URL, redisAvailable, startPresenceNode, testPrefix } from '@herald/test-kit';

describe.skipIf(!(await redisAvailable()))('redis broker', () => {
  brokerContract('redis', () => redisBroker({ url: REDIS_URL, prefix: testPrefix() }));

  const retention = { size: 100, ttlMs: 60_000 };
  const brokers: Broker[] = [];
  const make = (prefix: string, presenceTtlMs?: number) => {
    const broker = redisBroker({ url: REDIS_URL, prefix, ...(presenceTtlMs ? { presenceTtlMs } : {}) });
    brokers.push(broker);
    return broker;
  };
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });

  it('delivers a publish on one node to subscribers on another, in one order', async () => {
    const prefix = testPrefix();
    const [a, b, c] = [make(prefix), make(prefix), make(prefix)];
    const seenOnB: string[] = [];
    const seenOnC: string[] = [];
    await b.subscribe('t', { onEntry: (e) => seenOnB.push(e.id), onInterrupted: () => {} });
    await c.subscribe('t', { onEntry: (e) => seenOnC.push(e.id), onInterrupted: () => {} });
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : c).publish('t', `m${i}`, retention)));
    await expect.poll(() => seenOnB.length).toBe(50);
    await expect.poll(() => seenOnC.length).toBe(50);
    expect(seenOnB).toEqual(seenOnC);
    expect(new Set(seenOnB)).toEqual(new Set(ids));
    const history = await b.readLatest('t', 100, retention);
    expect(history.entries.map((e) => e.id)).toEqual(seenOnB);
  });

  it('says reset for a position from before the Redis data was lost', async () => {
    const prefix = testPrefix();
    const broker = make(prefix);
    const old = await broker.publish('t', 'a', retention);
    const admin = new Redis(REDIS_URL);
    // What a Redis restart without persistence looks like to Herald: every key gone.
    const doomed = await admin.keys(`${prefix}:*`);
    await admin.del(...doomed);
    await new Promise((resolve) => setTimeout(resolve, 5)); // the new epoch must start on a later millisecond
    await broker.publish('t', 'b', retention);
    expect((await broker.readAfter('t', old, retention)).gap).toBe('reset');
    admin.disconnect();
  });

  it('expires the presence of a node that died without leaving', async () => {
    const prefix = testPrefix();
    const survivor = make(prefix, 300);
    const events: PresenceChange[] = [];
    const unsubscribe = await survivor.presence.subscribe('room', { onEvent: (e) => events.push(e), onInterrupted: () => {} });
    await survivor.presence.join('room', { clientId: 'alive', info: '"a"', joinedAt: 2 });
    const child = await startPresenceNode({ redisUrl: REDIS_URL, prefix, topic: 'room', clientId: 'ghost', presenceTtlMs: 300 });
    expect((await survivor.presence.list('room')).map((r) => r.clientId).sort()).toEqual(['alive', 'ghost']);
    await kill(child); // no leave is ever sent
    await expect.poll(() => events.some((e) => e.type === 'leave' && e.clientId === 'ghost'), { timeout: 5_000 }).toBe(true);
    expect((await survivor.presence.list('room')).map((r) => r.clientId)).toEqual(['alive']);
    // The survivor kept refreshing its own entry well past the TTL.
    expect(events.filter((e) => e.type === 'leave')).toHaveLength(1);
    await unsubscribe();
  });
});
