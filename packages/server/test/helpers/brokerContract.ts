import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Broker, BrokerEntry, PresenceChange } from '@herald/server';

const retention = { size: 5, ttlMs: 60_000 };

/**
 * The behaviour every broker must have. Each broker's test file calls this
 * with a factory, so the memory and Redis brokers are held to one standard.
 */
export function brokerContract(name: string, makeBroker: () => Promise<Broker> | Broker): void {
  describe(`${name} broker contract`, () => {
    let broker: Broker;
    let topicCounter = 0;
    const topic = () => `contract-${Date.now()}-${++topicCounter}`;

    beforeEach(async () => {
      broker = await makeBroker();
    });
    afterEach(async () => {
      await broker.close();
    });

    it('gives increasing ids and delivers live entries in order', async () => {
      const t = topic();
      const seen: BrokerEntry[] = [];
      const unsubscribe = await broker.subscribe(t, { onEntry: (entry) => seen.push(entry), onInterrupted: () => {} });
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push(await broker.publish(t, `m${i}`, { size: 100, ttlMs: 60_000 }));
      await expect.poll(() => seen.length).toBe(20);
      expect(seen.map((e) => e.data)).toEqual(ids.map((_, i) => `m${i}`));
      expect(seen.map((e) => e.id)).toEqual(ids);
      expect([...ids].sort(compareIds)).toEqual(ids);
      await unsubscribe();
      await broker.publish(t, 'after', retention);
      expect(seen).toHaveLength(20);
    });

    it('hands a live entry the trace context its publish stored, and none to a publish without', async () => {
      const t = topic();
      const seen: BrokerEntry[] = [];
      const unsubscribe = await broker.subscribe(t, { onEntry: (entry) => seen.push(entry), onInterrupted: () => {} });
      const trace = JSON.stringify({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'a=1, b=2' });
      const traced = await broker.publish(t, 'traced {"a b":1}', retention, undefined, trace);
      const plain = await broker.publish(t, 'plain', retention);
      await expect.poll(() => seen.length).toBe(2);
      expect(seen[0]).toEqual({ id: traced, data: 'traced {"a b":1}', trace });
      expect(seen[1]).toEqual({ id: plain, data: 'plain' });
      expect(seen[1]?.trace).toBeUndefined();
      await unsubscribe();
    });

    it('counts the history a topic holds (historyLength), trimmed to its size', async () => {
      const t = topic();
      expect(await broker.historyLength?.(t)).toBe(0);
      for (let i = 0; i < 3; i++) await broker.publish(t, `m${i}`, retention);
      expect(await broker.historyLength?.(t)).toBe(3);
      for (let i = 3; i < 9; i++) await broker.publish(t, `m${i}`, retention);
      expect(await broker.historyLength?.(t)).toBe(retention.size);
    });

    it('reads after a position and reports the head', async () => {
      const t = topic();
      const empty = await broker.readAfter(t, null, retention);
      expect(empty.entries).toEqual([]);
      expect(empty.gap).toBeNull();
      const a = await broker.publish(t, 'a', retention);
      const b = await broker.publish(t, 'b', retention);
      const c = await broker.publish(t, 'c', retention);
      const fromA = await broker.readAfter(t, a, retention);
      expect(fromA.entries).toEqual([
        { id: b, data: 'b' },
        { id: c, data: 'c' },
      ]);
      expect(fromA.head).toBe(c);
      expect(fromA.gap).toBeNull();
      // The head of an empty topic is a valid position that replays everything published since.
      const fromEmptyHead = await broker.readAfter(t, empty.head, retention);
      expect(fromEmptyHead.entries.map((e) => e.data)).toEqual(['a', 'b', 'c']);
      expect((await broker.readAfter(t, c, retention)).entries).toEqual([]);
    });

    it('reports a trimmed gap instead of a silent loss', async () => {
      const t = topic();
      const first = await broker.publish(t, 'm0', retention);
      for (let i = 1; i < retention.size + 3; i++) await broker.publish(t, `m${i}`, retention);
      const read = await broker.readAfter(t, first, retention);
      expect(read.gap).toBe('trimmed');
      expect(read.entries).toEqual([]);
      const latest = await broker.readLatest(t, 100, retention);
      expect(latest.entries.map((e) => e.data)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
      expect(latest.head).toBe(latest.entries.at(-1)?.id);
      // A position still inside history resumes without a gap.
      const inside = await broker.readAfter(t, latest.entries[1]?.id ?? '', retention);
      expect(inside.gap).toBeNull();
      expect(inside.entries.map((e) => e.data)).toEqual(['m5', 'm6', 'm7']);
    });

    it('rejects positions it never issued', async () => {
      const t = topic();
      await broker.publish(t, 'x', retention);
      expect((await broker.readAfter(t, 'garbage', retention)).gap).toBe('unknown-position');
      expect((await broker.readAfter(t, `${Number.MAX_SAFE_INTEGER}-0`, retention)).gap).toBe('unknown-position');
    });

    it('keeps presence and announces joins and leaves', async () => {
      const t = topic();
      const events: PresenceChange[] = [];
      const unsubscribe = await broker.presence.subscribe(t, { onEvent: (e) => events.push(e), onInterrupted: () => {} });
      await broker.presence.join(t, { clientId: 'c1', info: '"ann"', joinedAt: 1 });
      await broker.presence.join(t, { clientId: 'c2', info: '"bob"', joinedAt: 2 });
      expect((await broker.presence.list(t)).map((r) => r.clientId).sort()).toEqual(['c1', 'c2']);
      await broker.presence.leave(t, 'c1');
      expect((await broker.presence.list(t)).map((r) => r.clientId)).toEqual(['c2']);
      await expect.poll(() => events.length).toBe(3);
      expect(events.map((e) => (e.type === 'join' ? `join:${e.record.clientId}` : `leave:${e.clientId}`))).toEqual([
        'join:c1',
        'join:c2',
        'leave:c1',
      ]);
      await unsubscribe();
    });

    it('publishes a tagged publish once per topic and tag, and answers a repeat with the first id (PublishOnce)', async () => {
      const t = topic();
      const seen: string[] = [];
      const unsubscribe = await broker.subscribe(t, { onEntry: (entry) => seen.push(entry.data), onInterrupted: () => {} });
      const once = { tag: 'run-1', ttlMs: 60_000 };
      const first = await broker.publish(t, 'a', retention, once);
      const again = await broker.publish(t, 'a', retention, once);
      expect(again).toBe(first);
      // Another tag, or another topic with the same tag, is another publish.
      const other = await broker.publish(t, 'b', retention, { tag: 'run-2', ttlMs: 60_000 });
      expect(other).not.toBe(first);
      await broker.publish(topic(), 'a', retention, once);
      const read = await broker.readAfter(t, '0-1', retention);
      expect(read.entries.map((entry) => entry.data)).toEqual(['a', 'b']);
      await expect.poll(() => seen).toEqual(['a', 'b']);
      await unsubscribe();
    });

    it('answers ping while open', async () => {
      await expect(broker.ping()).resolves.toBeUndefined();
    });
  });
}

function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}
