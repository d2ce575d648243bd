import { afterEach, describe, expect, it } from 'vitest';
import { redisBroker } from '@herald/server/redis';
import type { Broker, PresenceChange } from '@herald/server';
import { brokerContract } from './helpers/brokerContract.js';
import { redisTargets } from './helpers/redisTargets.js';
import { kill, startPresenceNode, testPrefix } from '@herald/test-kit';

describe.each(await redisTargets())('redis broker on $name', (target) => {
  brokerContract(`redis (${target.name})`, () => redisBroker({ ...target.options(), prefix: testPrefix() }));

  const retention = { size: 100, ttlMs: 60_000 };
  const brokers: Broker[] = [];
  const make = (prefix: string, presenceTtlMs?: number) => {
    const broker = redisBroker({ ...target.options(), prefix, ...(presenceTtlMs ? { presenceTtlMs } : {}) });
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
    await target.wipe(prefix);
    await new Promise((resolve) => setTimeout(resolve, 5)); // the new epoch must start on a later millisecond
    await broker.publish('t', 'b', retention);
    expect((await broker.readAfter('t', old, retention)).gap).toBe('reset');
  });

  it('shares idempotency outcomes between nodes: a claim elsewhere is pending, then its outcome', async () => {
    const prefix = testPrefix();
    const [a, b] = [make(prefix), make(prefix)];
    const keys = Array.from({ length: 20 }, (_, i) => `call-${i}`); // keys spread over the slots
    for (const key of keys) expect(await a.idempotency.claim(key, 10_000)).toEqual({ state: 'claimed' });
    for (const key of keys) expect(await b.idempotency.claim(key, 10_000)).toEqual({ state: 'pending' });
    const waited = Promise.all(keys.map((key) => b.idempotency.wait(key, 5_000)));
    for (const key of keys) await a.idempotency.complete(key, JSON.stringify({ ok: key }), 10_000);
    expect(await waited).toEqual(keys.map((key) => JSON.stringify({ ok: key })));
    for (const key of keys) expect(await b.idempotency.claim(key, 10_000)).toEqual({ state: 'done', outcome: JSON.stringify({ ok: key }) });
    await target.deletePrefix(prefix);
  });

  it('expires the presence of a node that died without leaving', async () => {
    const prefix = testPrefix();
    const survivor = make(prefix, 300);
    const events: PresenceChange[] = [];
    const unsubscribe = await survivor.presence.subscribe('room', { onEvent: (e) => events.push(e), onInterrupted: () => {} });
    await survivor.presence.join('room', { clientId: 'alive', info: '"a"', joinedAt: 2 });
    const child = await startPresenceNode({ redisUrl: target.nodeUrl(), prefix, topic: 'room', clientId: 'ghost', presenceTtlMs: 300 });
    expect((await survivor.presence.list('room')).map((r) => r.clientId).sort()).toEqual(['alive', 'ghost']);
    await kill(child); // no leave is ever sent
    await expect.poll(() => events.some((e) => e.type === 'leave' && e.clientId === 'ghost'), { timeout: 5_000 }).toBe(true);
    expect((await survivor.presence.list('room')).map((r) => r.clientId)).toEqual(['alive']);
    // The survivor kept refreshing its own entry well past the TTL.
    expect(events.filter((e) => e.type === 'leave')).toHaveLength(1);
    await unsubscribe();
  });
});
