/**
 * Ordering on one socket: requests take effect in the order they were sent.
 * A subscription sent before a mutation is live before the mutation runs, so
 * a client always sees the effects of its own later calls, with no wait in
 * between (docs/architecture.md, "Ordering on one socket").
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryBroker, type Authorize, type Broker } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { redisTargets } from './helpers/redisTargets.js';
import {
  answerTo,
  Cleanup,
  CLIENT_KINDS,
  errorCodeOf,
  makeClient,
  rawSocket,
  recordChannel,
  request,
  startHardeningServer,
  testPrefix,
  type HardeningContext,
  type HardeningRouter,
  type RawSocket,
  type TestClient,
} from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const brokers: [string, () => Broker][] = [['memory', () => memoryBroker()]];
// One Redis, and a Redis Cluster this file starts (helpers/redisTargets.ts).
for (const target of await redisTargets()) brokers.push([`redis (${target.name})`, () => redisBroker({ ...target.options(), prefix: testPrefix() })]);

/** 1,000 pairs: 100 fresh connections, 10 fresh keys each. */
const CONNECTIONS = 100;
const PAIRS_PER_CONNECTION = 10;
/** Connections whose pairs run at once. */
const CONNECTIONS_AT_ONCE = 20;

/**
 * Subscribes to a fresh key and, with no wait, publishes on it through a
 * mutation on the same client. Then (the subscription live) publishes a
 * second message: it always arrives, so a subscriber that missed the first
 * shows it at once as `[2]` instead of making the test wait for a timeout.
 */
async function subscribeThenPublish(client: TestClient<HardeningRouter>, stream: string): Promise<number[]> {
  const subscription = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream }, handlers));
  try {
    await client.trpc.publish.mutate({ stream, n: 1 });
    await subscription.waitForLive();
    await client.trpc.publish.mutate({ stream, n: 2 });
    await subscription.until((events) => events.some((event) => event.type === 'message' && event.message.n === 2), 10_000, 'the second message');
    return subscription.messages().map((message) => message.n);
  } finally {
    subscription.unsubscribe();
  }
}

describe.each(brokers)('ordering on one socket (%s broker)', (_name, makeBroker) => {
  it.each(CLIENT_KINDS)(
    '1,000 fresh subscribe-then-publish pairs: each subscriber sees its own message (%s client)',
    async (kind) => {
      const { server } = cleanup.add(
        await startHardeningServer({ limits: { rate: false, maxConnectionsPerIp: CONNECTIONS_AT_ONCE * 2 } }, { broker: makeBroker() }),
      );
      const missed: string[] = [];
      let pairs = 0;
      const runConnection = async (connection: number) => {
        // A fresh connection: its first subscription also waits for the connection's admission.
        const client = makeClient<HardeningRouter>(kind, server.url);
        try {
          const runs = Array.from({ length: PAIRS_PER_CONNECTION }, async (_, pair) => {
            const stream = `o-${kind}-${connection}-${pair}`;
            const seen = await subscribeThenPublish(client, stream);
            pairs++;
            if (seen.join() !== '1,2') missed.push(`${stream}: ${seen.join() || 'nothing'}`);
          });
          await Promise.all(runs);
        } finally {
          await client.close();
        }
      };
      for (let first = 0; first < CONNECTIONS; first += CONNECTIONS_AT_ONCE) {
        await Promise.all(Array.from({ length: CONNECTIONS_AT_ONCE }, (_, i) => runConnection(first + i)));
      }
      expect(pairs).toBe(CONNECTIONS * PAIRS_PER_CONNECTION);
      expect(missed).toEqual([]);
    },
    120_000,
  );
});

describe('the ordering rule', () => {
  /** An `authorize` that holds every subscribe until the test lets it through (publish is always allowed). */
  function heldAuthorize() {
    const held: { key: string; release: (allowed: boolean) => void }[] = [];
    const waiters = new Set<() => void>();
    const authorize: Authorize<HardeningContext> = ({ action, key }) => {
      if (action !== 'subscribe') return true;
      return new Promise<boolean>((resolve) => {
        held.push({ key, release: resolve });
        for (const waiter of [...waiters]) waiter();
      });
    };
    /** Resolves with the held check of `key` once it is asked. */
    const asked = (key: string) =>
      new Promise<(allowed: boolean) => void>((resolve) => {
        const check = () => {
          const found = held.find((entry) => entry.key === key);
          if (found) {
            waiters.delete(check);
            resolve(found.release);
          }
        };
        waiters.add(check);
        check();
      });
    return { authorize, asked };
  }

  async function start(authorize: Authorize<HardeningContext>) {
    const { server, app } = cleanup.add(await startHardeningServer({}, { authorize }));
    const socket = (): RawSocket => {
      const raw = rawSocket(server.url);
      cleanup.defer(() => raw.close());
      return raw;
    };
    return { socket, gates: app.gates };
  }

  const indexOf = (raw: RawSocket, predicate: (frame: unknown) => boolean) => raw.frames.findIndex(predicate);
  const startedFor = (id: number) => (frame: unknown) => answerTo(id)(frame) && (frame as { result?: { type?: string } }).result?.type === 'started';

  it('a query sent after a subscription answers only once the subscription is live; other sockets are not held', async () => {
    const { authorize, asked } = heldAuthorize();
    const { socket } = await start(authorize);
    const a = socket();
    a.send([request(1, 'subscription', 'numbers', { stream: 'held' }), request(2, 'query', 'add', { a: 1, b: 2 })]);
    const release = await asked('held');

    // Another socket's requests run at once while `a`'s subscription is held.
    const b = socket();
    b.send(request(1, 'query', 'add', { a: 2, b: 2 }));
    await b.frame(answerTo(1), 5_000, "b's answer");
    expect(a.frames.some(answerTo(2))).toBe(false);

    release(true);
    await a.frame(answerTo(2), 5_000, "a's answer");
    // The subscription was announced (and attached) before the query behind it answered.
    expect(indexOf(a, startedFor(1))).toBeGreaterThanOrEqual(0);
    expect(indexOf(a, startedFor(1))).toBeLessThan(indexOf(a, answerTo(2)));
  });

  it('a refused subscription lets the requests behind it run', async () => {
    const { authorize, asked } = heldAuthorize();
    const { socket } = await start(authorize);
    const a = socket();
    a.send([request(1, 'subscription', 'numbers', { stream: 'no' }), request(2, 'mutation', 'publish', { stream: 'elsewhere', n: 1 })]);
    (await asked('no'))(false);
    const refused = await a.frame(answerTo(1), 5_000, 'the refusal');
    expect(errorCodeOf(refused)).toBe('FORBIDDEN');
    const answer = await a.frame<{ result?: unknown; error?: unknown }>(answerTo(2), 5_000, 'the mutation');
    expect(answer.error).toBeUndefined();
  });

  it('subscription.stop is not held, and stopping a held subscription lets the requests behind it run', async () => {
    const { authorize, asked } = heldAuthorize();
    const { socket } = await start(authorize);
    const a = socket();
    a.send([request(1, 'subscription', 'numbers', { stream: 'held' }), request(2, 'query', 'add', { a: 1, b: 2 })]);
    const release = await asked('held');
    a.send({ id: 1, method: 'subscription.stop' });
    await a.frame(answerTo(2), 5_000, 'the query, released by the stop');
    release(true);
    // The stopped subscription never starts: a later request's answer arrives, and no `started` for it.
    a.send(request(3, 'query', 'add', { a: 0, b: 0 }));
    await a.frame(answerTo(3), 5_000, 'a later answer');
    expect(a.frames.some(startedFor(1))).toBe(false);
  });

  it('subscriptions do not wait for each other, nor for a mutation sent before them', async () => {
    const { authorize, asked } = heldAuthorize();
    const { socket, gates } = await start(authorize);
    const a = socket();
    a.send([
      request(1, 'mutation', 'slow', { name: 'first' }),
      request(2, 'subscription', 'numbers', { stream: 'held' }),
      request(3, 'subscription', 'numbers', { stream: 'second' }),
    ]);
    // Both subscriptions reach `authorize` while the mutation before them still runs.
    const releaseHeld = await asked('held');
    const releaseSecond = await asked('second');
    releaseSecond(true);
    await a.frame(startedFor(3), 5_000, 'the second subscription, ahead of the held one');
    expect(a.frames.some(startedFor(2))).toBe(false);
    releaseHeld(true);
    await a.frame(startedFor(2), 5_000, 'the held subscription');
    expect(a.frames.some(answerTo(1))).toBe(false);
    gates.open('first');
    await a.frame(answerTo(1), 5_000, 'the mutation');
  });
});
