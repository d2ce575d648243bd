import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { TrackedEnvelope } from '@trpc/server';
import { createHerald, HeraldError, memoryBroker, type Broker, type ChannelEvent, type Herald, type PresenceEvent } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { redisTargets } from './helpers/redisTargets.js';
import { testPrefix } from '@herald/test-kit';

type Event = ChannelEvent<{ n: number }>;
interface Received {
  id: string;
  event: Event;
}

/** Pulls events from a channel stream until `until` says stop, bounded by `maxEvents`. */
async function collect(
  stream: AsyncGenerator<unknown, void, unknown>,
  until: (received: Received[]) => boolean,
  maxEvents = 100_000,
): Promise<Received[]> {
  const received: Received[] = [];
  for await (const envelope of stream) {
    const [id, event] = envelope as [string, Event];
    received.push({ id, event });
    if (until(received) || received.length >= maxEvents) break;
  }
  return received;
}

/** The id and event of one `stream.next()` result. */
function unpack(result: IteratorResult<TrackedEnvelope<Event>, void>): Received {
  if (result.done) throw new Error('the stream ended');
  const [id, event] = result.value;
  return { id, event };
}

const messagesOf = (received: Received[]) =>
  received.flatMap((r) => (r.event.type === 'message' ? [r.event.message.n] : []));

const brokers: [string, () => Broker][] = [['memory', () => memoryBroker()]];
// One Redis, and a Redis Cluster this file starts (helpers/redisTargets.ts).
for (const target of await redisTargets()) brokers.push([`redis (${target.name})`, () => redisBroker({ ...target.options(), prefix: testPrefix() })]);

describe.each(brokers)('channels on the %s broker', (_name, makeBroker) => {
  let herald: Herald;
  afterEach(async () => {
    await herald.close();
  });

  function numbersChannel(options: { historySize?: number; subscriberBufferSize?: number } = {}) {
    herald = createHerald({ broker: makeBroker() });
    return herald.channel('numbers', {
      key: z.string().min(1),
      message: z.object({ n: z.number().int() }),
      presence: z.object({ name: z.string() }),
      history: { size: options.historySize ?? 1_000 },
      ...(options.subscriberBufferSize ? { subscriberBufferSize: options.subscriberBufferSize } : {}),
    });
  }

  it('rejects a message that fails the schema with a typed error, and delivers nothing', async () => {
    const numbers = numbersChannel();
    const controller = new AbortController();
    const stream = numbers.stream('s', { signal: controller.signal });
    // The `live` marker: subscribed from here on.
    expect(unpack(await stream.next()).event.type).toBe('live');

    const error = await numbers.publish('s', { n: 'not a number' } as unknown as { n: number }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldError);
    expect((error as HeraldError).heraldCode).toBe('INVALID_MESSAGE');
    expect((error as HeraldError).code).toBe('BAD_REQUEST');
    await expect(numbers.publish('', { n: 1 })).rejects.toMatchObject({ heraldCode: 'INVALID_KEY' });

    await numbers.publish('s', { n: 7 });
    expect(unpack(await stream.next()).event).toEqual({ type: 'message', message: { n: 7 } });
    expect((await numbers.history('s')).messages.map((m) => m.message.n)).toEqual([7]);
    controller.abort();
    await stream.return();
  });

  it('resumes after lastEventId with no gap and no duplicate while publishing goes on', async () => {
    const numbers = numbersChannel({ historySize: 5_000 });
    const ids: string[] = [];
    for (let n = 1; n <= 500; n++) ids.push(await numbers.publish('s', { n }));

    const publishing = (async () => {
      for (let n = 501; n <= 1_500; n++) {
        await numbers.publish('s', { n });
        // Let the subscriber's history read and live buffering interleave with publishes.
        if (n % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const received = await collect(numbers.stream('s', { lastEventId: ids[249] }), (r) => messagesOf(r).at(-1) === 1_500);
    await publishing;

    expect(messagesOf(received)).toEqual(Array.from({ length: 1_250 }, (_, i) => 251 + i));
    expect(received.filter((r) => r.event.type === 'gap')).toEqual([]);
    // Positions only grow, so a resume from any of them is well defined.
    const positions = received.map((r) => r.id.split('-').map(Number) as [number, number]);
    for (let i = 1; i < positions.length; i++) {
      const [am, as] = positions[i - 1] as [number, number];
      const [bm, bs] = positions[i] as [number, number];
      expect(bm > am || (bm === am && bs >= as)).toBe(true);
    }
  });

  it('sends a gap notice when history no longer covers lastEventId, then continues live', async () => {
    const numbers = numbersChannel({ historySize: 10 });
    const first = await numbers.publish('s', { n: 1 });
    for (let n = 2; n <= 30; n++) await numbers.publish('s', { n });

    const stream = numbers.stream('s', { lastEventId: first });
    const gap = unpack(await stream.next());
    expect(gap.event).toEqual({ type: 'gap', reason: 'trimmed' });
    expect(unpack(await stream.next())).toEqual({ id: gap.id, event: { type: 'live', replayed: 0 } });
    await numbers.publish('s', { n: 31 });
    expect(unpack(await stream.next()).event).toEqual({ type: 'message', message: { n: 31 } });
    await stream.return();

    // The position the gap carried is a good resume point: nothing after it is missed.
    await numbers.publish('s', { n: 32 });
    const resumed = await collect(numbers.stream('s', { lastEventId: gap.id }), (r) => r.some((x) => x.event.type === 'live'));
    expect(messagesOf(resumed)).toEqual([31, 32]);
  });

  it('tells a consumer that fell further behind than history holds about the gap, then goes on live', async () => {
    const numbers = numbersChannel({ historySize: 50, subscriberBufferSize: 10 });
    const stream = numbers.stream('s');
    await stream.next(); // live
    // The consumer does not pull while 200 messages go out: more than its
    // queue (history + buffer) holds, so its backlog is dropped.
    for (let n = 1; n <= 200; n++) await numbers.publish('s', { n });
    const gap = unpack(await stream.next());
    expect(gap.event).toEqual({ type: 'gap', reason: 'trimmed' });
    expect(unpack(await stream.next()).event).toEqual({ type: 'live', replayed: 0 });
    await numbers.publish('s', { n: 201 });
    expect(unpack(await stream.next()).event).toEqual({ type: 'message', message: { n: 201 } });
    await stream.return();
  });

  it('lets a consumer fall behind by up to a whole history without loss', async () => {
    const numbers = numbersChannel({ historySize: 150, subscriberBufferSize: 10 });
    const stream = numbers.stream('s');
    await stream.next(); // live
    for (let n = 1; n <= 150; n++) await numbers.publish('s', { n });
    const received = await collect(stream, (r) => messagesOf(r).at(-1) === 150);
    expect(messagesOf(received)).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
  });

  it('tracks presence: members, join and leave events, leave when a subscriber ends', async () => {
    const numbers = numbersChannel();
    const presence = numbers.presenceEvents('room');
    const events: PresenceEvent<{ name: string }>[] = [];
    const snapshot = await presence.next();
    events.push(snapshot.value as PresenceEvent<{ name: string }>);
    expect(events[0]).toEqual({ type: 'snapshot', members: [] });

    const ann = new AbortController();
    const annStream = numbers.stream('room', { signal: ann.signal, presence: { name: 'ann' } });
    await annStream.next();
    const bobStream = numbers.stream('room', { presence: { name: 'bob' } });
    await bobStream.next();

    const members = await numbers.members('room');
    expect(members.map((m) => m.info.name).sort()).toEqual(['ann', 'bob']);

    const joinAnn = (await presence.next()).value as PresenceEvent<{ name: string }>;
    const joinBob = (await presence.next()).value as PresenceEvent<{ name: string }>;
    expect(joinAnn.type === 'join' && joinAnn.member.info.name).toBe('ann');
    expect(joinBob.type === 'join' && joinBob.member.info.name).toBe('bob');

    await annStream.return();
    const leave = (await presence.next()).value as PresenceEvent<{ name: string }>;
    expect(leave).toEqual({ type: 'leave', clientId: joinAnn.type === 'join' ? joinAnn.member.clientId : '' });
    expect((await numbers.members('room')).map((m) => m.info.name)).toEqual(['bob']);

    await bobStream.return();
    await presence.return();
  });

  it('calls onPresenceChange once a join is stored and once a leave is stored, with the members it sees then', async () => {
    herald = createHerald({ broker: makeBroker() });
    const seen: { key: string; type: string; members: string[] }[] = [];
    let changed: () => void = () => undefined;
    const rooms = herald.channel('rooms', {
      key: z.string().min(1),
      message: z.object({ n: z.number() }),
      presence: z.object({ name: z.string() }),
      onPresenceChange: async ({ key, type }) => {
        const members = (await rooms.members(key)).map((member) => member.info.name);
        seen.push({ key, type, members });
        changed();
      },
    });
    const next = () => new Promise<void>((resolve) => (changed = resolve));
    let reported = next();
    const stream = rooms.stream('lobby', { presence: { name: 'ann' } });
    await stream.next();
    await reported;
    expect(seen).toEqual([{ key: 'lobby', type: 'join', members: ['ann'] }]);
    reported = next();
    await stream.return();
    await reported;
    expect(seen[1]).toEqual({ key: 'lobby', type: 'leave', members: [] });
    // A stream without presence info joins nothing, and nothing is called.
    const anonymous = rooms.stream('lobby');
    await anonymous.next();
    await anonymous.return();
    expect(seen).toHaveLength(2);
  });

  it('refuses a second channel with the same name and names with the topic separator', () => {
    numbersChannel();
    expect(() => herald.channel('numbers', { key: z.string(), message: z.string() })).toThrow(/declared twice/);
    expect(() => herald.channel('a:b', { key: z.string(), message: z.string() })).toThrow(/must match/);
  });
});
