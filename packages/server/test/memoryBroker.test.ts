import { describe, expect, it } from 'vitest';
import { memoryBroker } from '@herald/server';
import { brokerContract } from './helpers/brokerContract.js';

brokerContract('memory', () => memoryBroker());

describe('memory broker', () => {
  const retention = { size: 100, ttlMs: 1_000 };

  it('reports an expired gap when the age bound dropped messages', async () => {
    let now = 1_000_000;
    const broker = memoryBroker({ now: () => now });
    const first = await broker.publish('t', 'a', retention);
    await broker.publish('t', 'b', retention);
    now += 5_000;
    await broker.publish('t', 'c', retention);
    const read = await broker.readAfter('t', first, retention);
    expect(read.gap).toBe('expired');
    expect((await broker.readLatest('t', 10, retention)).entries.map((e) => e.data)).toEqual(['c']);
    await broker.close();
  });

  it('tells a position from before a restart apart (reset)', async () => {
    let now = 1_000_000;
    const before = memoryBroker({ now: () => now });
    const old = await before.publish('t', 'a', retention);
    const oldHead = (await before.readAfter('t', null, retention)).head;
    await before.close();
    now += 10;
    const after = memoryBroker({ now: () => now });
    await after.publish('t', 'b', retention);
    expect((await after.readAfter('t', old, retention)).gap).toBe('reset');
    expect((await after.readAfter('t', oldHead, retention)).gap).toBe('reset');
    await after.close();
  });

  it('keeps ids increasing when the clock goes backwards', async () => {
    let now = 2_000_000;
    const broker = memoryBroker({ now: () => now });
    const a = await broker.publish('t', 'a', retention);
    now -= 500;
    const b = await broker.publish('t', 'b', retention);
    const [ms, seq] = a.split('-');
    expect(b).toBe(`${ms}-${Number(seq) + 1}`);
    await broker.close();
  });

  it('rejects use after close', async () => {
    const broker = memoryBroker();
    await broker.close();
    await expect(broker.publish('t', 'a', retention)).rejects.toThrow(/closed/);
  });
});
