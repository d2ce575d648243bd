/**
 * The idempotency store's states on both brokers: free, claimed by an
 * owner, released (claimed again by the next attempt), done. A release by
 * an owner that no longer holds the key changes nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryBroker, type Broker } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { REDIS_URL, redisAvailable, testPrefix } from '@herald/test-kit';

const redisUp = await redisAvailable();
const TTL_MS = 60_000;

const brokers: Broker[] = [];
afterEach(async () => {
  await Promise.all(brokers.splice(0).map((broker) => broker.close()));
});

const targets: readonly { readonly name: string; readonly make: () => Broker }[] = [
  { name: 'memory', make: () => memoryBroker() },
  ...(redisUp ? [{ name: 'redis', make: () => redisBroker({ url: REDIS_URL, prefix: testPrefix() }) }] : []),
];

describe.each(targets)('the $name idempotency store', ({ make }) => {
  const store = () => {
    const broker = make();
    brokers.push(broker);
    return broker.idempotency;
  };

  it('claims a free key once; a released key is claimed again; a completed one is done', async () => {
    const s = store();
    expect(await s.claim('k', TTL_MS, 'a')).toEqual({ state: 'claimed' });
    expect(await s.claim('k', TTL_MS, 'b')).toEqual({ state: 'pending' });
    await s.release('k', 'a', TTL_MS);
    expect(await s.claim('k', TTL_MS, 'b')).toEqual({ state: 'claimed' });
    await s.complete('k', 'outcome', TTL_MS);
    expect(await s.claim('k', TTL_MS, 'c')).toEqual({ state: 'done', outcome: 'outcome' });
  });

  it('ignores a release by an owner that no longer holds the key', async () => {
    const s = store();
    expect(await s.claim('k', TTL_MS, 'a')).toEqual({ state: 'claimed' });
    await s.release('k', 'a', TTL_MS);
    expect(await s.claim('k', TTL_MS, 'b')).toEqual({ state: 'claimed' });
    await s.release('k', 'a', TTL_MS); // late: b holds it now
    expect(await s.claim('k', TTL_MS, 'c')).toEqual({ state: 'pending' });
    await s.complete('k', 'done-by-b', TTL_MS);
    await s.release('k', 'b', TTL_MS); // after the completion: nothing to undo
    expect(await s.claim('k', TTL_MS, 'c')).toEqual({ state: 'done', outcome: 'done-by-b' });
  });

  it('wakes a waiter with the outcome, or with none when the run is released', async () => {
    const s = store();
    await s.claim('done', TTL_MS, 'a');
    const outcome = s.wait('done', 10_000);
    await s.complete('done', 'result', TTL_MS);
    expect(await outcome).toBe('result');

    await s.claim('released', TTL_MS, 'a');
    const none = s.wait('released', 10_000);
    await s.release('released', 'a', TTL_MS);
    expect(await none).toBeNull();
  });
});
