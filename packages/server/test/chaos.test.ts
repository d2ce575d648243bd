import { afterEach, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy } from '@herald/server/testing';
import { startNumbersServer, type NumbersServer } from './helpers/numbersApp.js';
import {
  CLIENT_KINDS,
  numbersClient,
  range,
  recordNumbers,
  waitFor,
  type NumbersClient,
} from './helpers/subscribers.js';

/**
 * Faults at the socket level, between real clients and a real server: the
 * proxy cuts, stalls and refuses connections; nothing in the code under test
 * knows it is being tested.
 */
describe('channels under network faults', () => {
  let server: NumbersServer;
  let proxy: FaultProxy;
  const clients: NumbersClient[] = [];

  async function setUp(options: { historySize?: number; heartbeat?: { pingIntervalMs: number; pongTimeoutMs: number } } = {}) {
    server = await startNumbersServer({ historySize: options.historySize ?? 20_000, ...(options.heartbeat ? { heartbeat: options.heartbeat } : {}) });
    proxy = await createFaultProxy({ target: { port: server.server.port } });
  }

  function client(...args: Parameters<typeof numbersClient>): NumbersClient {
    const created = numbersClient(...args);
    clients.push(created);
    return created;
  }

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await proxy?.close();
    await server?.close();
  });

  it('delivers 10,000 numbered messages to every subscriber exactly once, in order, while connections are cut at random', async () => {
    await setUp();
    const subscribers = [
      ...CLIENT_KINDS.map((kind) => client(kind, proxy.url())),
      ...CLIENT_KINDS.map((kind) => client(kind, proxy.url())),
    ];
    const recorders = subscribers.map((s) => recordNumbers(s, 'chaos'));
    await waitFor(() => recorders.every((r) => r.events.some((e) => e.type === 'live')), 5_000, 'every subscriber to be live');

    const total = 10_000;
    let cuts = 0;
    let publishing = true;
    const chaos = (async () => {
      // Bounded: at most 500 rounds, and only while the publisher runs.
      for (let round = 0; publishing && round < 500; round++) {
        await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
        cuts += proxy.cutRandom(0.5);
      }
    })();
    for (let n = 1; n <= total; n++) {
      await server.app.numbers.publish('chaos', { n });
      if (n % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    publishing = false;
    await chaos;

    await waitFor(() => recorders.every((r) => r.numbers.length >= total), 30_000, 'every subscriber to catch up');
    expect(cuts).toBeGreaterThan(5);
    for (const recorder of recorders) {
      expect(recorder.gaps).toEqual([]);
      expect(recorder.numbers).toEqual(range(1, total));
    }
  });

  describe.each(CLIENT_KINDS)('with the %s client', (kind) => {
    it('detects a half-open connection on both sides within the heartbeat bounds, then resumes without loss', async () => {
      const heartbeat = { pingIntervalMs: 200, pongTimeoutMs: 200 };
      await setUp({ heartbeat });
      // Herald's client redials at once (50 ms backoff here), so a redial can
      // land while the network is still dead: its handshake is lost, and only
      // the connect timeout recovers it. Keep that within the wait below.
      const subscriber = client(kind, proxy.url(), { heartbeat, connectTimeoutMs: 1_000 });
      const recorder = recordNumbers(subscriber, 'half-open');
      await waitFor(() => recorder.events.some((e) => e.type === 'live'), 5_000, 'the subscriber to be live');
      await server.app.numbers.publish('half-open', { n: 1 });
      await waitFor(() => recorder.numbers.length === 1, 5_000, 'the first message');
      const statuses: string[] = [];
      subscriber.connection?.subscribe((next) => statuses.push(next.status));

      proxy.stall(); // no FIN, no RST: only heartbeats can tell
      const stalledAt = Date.now();
      await server.app.numbers.publish('half-open', { n: 2 });
      await waitFor(() => server.server.connectionCount === 0, 5_000, 'the server to drop the silent peer');
      const serverDetectedMs = Date.now() - stalledAt;
      // Quiet for the ping interval, then the pong timeout, checked every quarter interval.
      expect(serverDetectedMs).toBeLessThan(heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs + 500);

      if (subscriber.connection) {
        await waitFor(() => statuses.includes('reconnecting'), 5_000, 'the client to notice');
        // Its ping interval and pong timeout, plus the bounded close handshake (1 s in Node).
        expect(Date.now() - stalledAt).toBeLessThan(heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs + 1_000 + 500);
      }

      await server.app.numbers.publish('half-open', { n: 3 });
      proxy.resume();
      await waitFor(() => recorder.numbers.length >= 3, 10_000, 'the subscriber to resume');
      expect(recorder.numbers).toEqual([1, 2, 3]);
      expect(recorder.gaps).toEqual([]);
      if (subscriber.connection) await waitFor(() => statuses.at(-1) === 'open', 5_000, 'the client to be open again');
    });

    it('sends a gap notice, not silence, when history was trimmed past the resume position', async () => {
      await setUp({ historySize: 20 });
      const subscriber = client(kind, proxy.url());
      const recorder = recordNumbers(subscriber, 'trimmed');
      await waitFor(() => recorder.events.some((e) => e.type === 'live'), 5_000, 'the subscriber to be live');
      for (const n of range(1, 5)) await server.app.numbers.publish('trimmed', { n });
      await waitFor(() => recorder.numbers.length === 5, 5_000, 'the first five');

      proxy.refuse();
      proxy.cutAll();
      await waitFor(() => server.server.connectionCount === 0, 5_000, 'the cut to reach the server');
      for (const n of range(6, 60)) await server.app.numbers.publish('trimmed', { n });
      proxy.accept();

      await waitFor(() => recorder.gaps.length === 1, 10_000, 'the gap notice');
      expect(recorder.gaps[0]).toEqual({ type: 'gap', reason: 'trimmed' });
      await server.app.numbers.publish('trimmed', { n: 61 });
      await waitFor(() => recorder.numbers.at(-1) === 61, 5_000, 'live delivery after the gap');
      expect(recorder.numbers).toEqual([...range(1, 5), 61]);
    });

    it('announces a leave when a subscriber’s connection dies, within the heartbeat timeout', async () => {
      const heartbeat = { pingIntervalMs: 200, pongTimeoutMs: 200 };
      await setUp({ heartbeat });
      const observer = client(kind, server.server.url);
      const events: string[] = [];
      observer.trpc.presence.subscribe(
        { stream: 'room' },
        {
          onData: (event) => {
            if (event.type === 'join') events.push(`join:${event.member.info.name}`);
            if (event.type === 'leave') events.push('leave');
          },
        },
      );
      const member = client(kind, proxy.url(), { name: 'ann', heartbeat: { pingIntervalMs: 60_000, pongTimeoutMs: 60_000 } });
      recordNumbers(member, 'room');
      await waitFor(() => events.includes('join:ann'), 5_000, 'the join');
      expect((await observer.trpc.members.query({ stream: 'room' })).map((m) => m.info.name)).toEqual(['ann']);

      proxy.stall();
      const stalledAt = Date.now();
      await waitFor(() => events.includes('leave'), 5_000, 'the leave');
      expect(Date.now() - stalledAt).toBeLessThan(heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs + 500);
      expect(await observer.trpc.members.query({ stream: 'room' })).toEqual([]);
    });
  });

  it('refuses a message that fails the channel schema with INVALID_MESSAGE and delivers nothing', async () => {
    await setUp();
    const subscriber = client('herald', server.server.url);
    const recorder = recordNumbers(subscriber, 'typed');
    await waitFor(() => recorder.events.some((e) => e.type === 'live'), 5_000, 'the subscriber to be live');
    const error = await subscriber.trpc.publish.mutate({ stream: 'typed', n: 1.5 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ data: { code: 'BAD_REQUEST', heraldCode: 'INVALID_MESSAGE' } });
    await subscriber.trpc.publish.mutate({ stream: 'typed', n: 2 });
    await waitFor(() => recorder.numbers.length === 1, 5_000, 'the valid message');
    expect(recorder.numbers).toEqual([2]);
  });
});
