import { afterEach, describe, expect, it } from 'vitest';
import { createFaultProxy, type FaultProxy } from '@herald/server/testing';
import {
  CLIENT_KINDS,
  numbersClient,
  nextEvent,
  nextState,
  pollUntil,
  range,
  startNumbersServer,
  subscribeNumbers,
  subscribePresence,
  type NumbersClient,
  type NumbersServer,
} from '@herald/test-kit';

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
    const recorders = subscribers.map((s) => subscribeNumbers(s, 'chaos'));
    await Promise.all(recorders.map((r) => r.waitForLive()));

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

    await Promise.all(recorders.map((r) => r.waitForMessages(total, 30_000)));
    expect(cuts).toBeGreaterThan(5);
    for (const recorder of recorders) {
      expect(recorder.gaps()).toEqual([]);
      expect(recorder.numbers()).toEqual(range(1, total));
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
      const recorder = subscribeNumbers(subscriber, 'half-open');
      await recorder.waitForLive();
      await server.app.numbers.publish('half-open', { n: 1 });
      await recorder.waitForMessages(1);
      // Only Herald's client bounds the close handshake of a dead socket; the stock
      // client waits for ws's (30 s) before it reconnects, so only the resume is checked for it.
      const reconnecting = kind === 'herald' ? nextState(subscriber, 'reconnecting') : null;

      proxy.stall(); // no FIN, no RST: only heartbeats can tell
      const stalledAt = Date.now();
      await server.app.numbers.publish('half-open', { n: 2 });
      await pollUntil(() => server.server.connectionCount === 0, 'the server to drop the silent peer');
      const serverDetectedMs = Date.now() - stalledAt;
      // Quiet for the ping interval, then the pong timeout, checked every quarter interval.
      expect(serverDetectedMs).toBeLessThan(heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs + 500);

      if (reconnecting) {
        await reconnecting;
        // Its ping interval and pong timeout, plus the bounded close handshake (1 s in Node).
        expect(Date.now() - stalledAt).toBeLessThan(heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs + 1_000 + 500);
      }

      const reopened = kind === 'herald' ? nextState(subscriber, 'open', 10_000) : null;
      await server.app.numbers.publish('half-open', { n: 3 });
      proxy.resume();
      await recorder.waitForMessages(3, 10_000);
      expect(recorder.numbers()).toEqual([1, 2, 3]);
      expect(recorder.gaps()).toEqual([]);
      if (reopened) await reopened;
    });

    it('sends a gap notice, not silence, when history was trimmed past the resume position', async () => {
      await setUp({ historySize: 20 });
      const subscriber = client(kind, proxy.url());
      const recorder = subscribeNumbers(subscriber, 'trimmed');
      await recorder.waitForLive();
      for (const n of range(1, 5)) await server.app.numbers.publish('trimmed', { n });
      await recorder.waitForMessages(5);

      proxy.refuse();
      proxy.cutAll();
      await pollUntil(() => server.server.connectionCount === 0, 'the cut to reach the server');
      for (const n of range(6, 60)) await server.app.numbers.publish('trimmed', { n });
      const gap = nextEvent(recorder, (event) => event.type === 'gap', 10_000, 'the gap notice');
      proxy.accept();

      expect((await gap).event).toEqual({ type: 'gap', reason: 'trimmed' });
      await recorder.waitForLive(2);
      await server.app.numbers.publish('trimmed', { n: 61 });
      await recorder.waitForMessages(6);
      expect(recorder.numbers()).toEqual([...range(1, 5), 61]);
      expect(recorder.gaps()).toHaveLength(1);
    });

    it('announces a leave when a subscriber’s connection dies, within the heartbeat timeout', async () => {
      const heartbeat = { pingIntervalMs: 200, pongTimeoutMs: 200 };
      await setUp({ heartbeat });
      const observer = client(kind, server.server.url);
      const presence = subscribePresence(observer, 'room');
      const member = client(kind, proxy.url(), { name: 'ann', heartbeat: { pingIntervalMs: 60_000, pongTimeoutMs: 60_000 } });
      subscribeNumbers(member, 'room');
      // Ann is seen joining, or already in the snapshot when her subscription was first.
      const isAnn = (member: { info: { name: string } }) => member.info.name === 'ann';
      await presence.until(
        (events) => events.some((e) => (e.type === 'join' && isAnn(e.member)) || (e.type === 'snapshot' && e.members.some(isAnn))),
        5_000,
        'ann in the room',
      );
      expect((await observer.trpc.members.query({ stream: 'room' })).map((m) => m.info.name)).toEqual(['ann']);

      const leave = nextEvent(presence, (event) => event.type === 'leave', 5_000, 'the leave');
      proxy.stall();
      const stalledAt = Date.now();
      await leave;
      expect(Date.now() - stalledAt).toBeLessThan(heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs + 500);
      expect(await observer.trpc.members.query({ stream: 'room' })).toEqual([]);
    });
  });

  it('refuses a message that fails the channel schema with INVALID_MESSAGE and delivers nothing', async () => {
    await setUp();
    const subscriber = client('herald', server.server.url);
    const recorder = subscribeNumbers(subscriber, 'typed');
    await recorder.waitForLive();
    const error = await subscriber.trpc.publish.mutate({ stream: 'typed', n: 1.5 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ data: { code: 'BAD_REQUEST', heraldCode: 'INVALID_MESSAGE' } });
    await subscriber.trpc.publish.mutate({ stream: 'typed', n: 2 });
    await recorder.waitForMessages(1);
    expect(recorder.numbers()).toEqual([2]);
  });
});
