import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { createHeraldClient } from '@herald/client';
import type { Authenticate } from '@herald/server';
import { CloseCode } from '@herald/shared';
import {
  answerTo,
  Cleanup,
  errorCodeOf,
  FAST_BACKOFF,
  heapAfterGc,
  metricValue,
  pollUntil,
  rawSocket,
  recordChannel,
  request,
  scrape,
  startHardeningServer,
  type HardeningRouter,
  upgrade as kitUpgrade,
  type RawSocket,
  type TestUser,
  type Upgrade,
  type UpgradeOptions,
} from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** The HTTP status an upgrade gets (101 when it is accepted); the socket stays open until cleanup. */
async function upgrade(url: string, options: UpgradeOptions = {}): Promise<Upgrade> {
  const answer = await kitUpgrade(url, options);
  cleanup.defer(() => answer.socket.terminate());
  return answer;
}

function raw(url: string, params?: Record<string, string>): RawSocket {
  const socket = rawSocket(url, params ? { params } : {});
  cleanup.defer(() => socket.close());
  return socket;
}

/** The underlying net.Socket of a `ws` client: pausing it stops reading, as a stalled peer would. */
function tcpOf(socket: WebSocket): { pause(): void; resume(): void } {
  return (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
}

describe('connection limits', () => {
  it('refuses connections over maxConnections with 503, and takes new ones once some close', async () => {
    const { server } = cleanup.add(await startHardeningServer({ limits: { maxConnections: 3 } }));
    const accepted = [await upgrade(server.url), await upgrade(server.url), await upgrade(server.url)];
    expect(accepted.map((a) => a.status)).toEqual([101, 101, 101]);
    expect((await upgrade(server.url)).status).toBe(503);
    accepted[0]?.socket.close();
    await pollUntil(async () => (await upgrade(server.url)).status, 'a slot to free up', { accept: (status) => status === 101 });
    expect(metricValue(await scrape(server), 'herald_refusals_total', { reason: 'max_connections' })).toBeGreaterThanOrEqual(1);
  });

  it('refuses connections over maxConnectionsPerIp with 429; behind a trusted proxy it counts X-Forwarded-For', async () => {
    const { server } = cleanup.add(await startHardeningServer({ limits: { maxConnectionsPerIp: 2 } }));
    expect((await upgrade(server.url)).status).toBe(101);
    expect((await upgrade(server.url)).status).toBe(101);
    expect((await upgrade(server.url)).status).toBe(429);
    // Without trustProxy the header is the client's word, and ignored.
    expect((await upgrade(server.url, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(429);
    expect(metricValue(await scrape(server), 'herald_refusals_total', { reason: 'max_connections_per_ip' })).toBe(2);

    const proxied = cleanup.add(await startHardeningServer({ trustProxy: true, limits: { maxConnectionsPerIp: 1 } }));
    const from = (ip: string) => upgrade(proxied.server.url, { headers: { 'x-forwarded-for': `${ip}, 10.0.0.1` } });
    expect((await from('203.0.113.1')).status).toBe(101);
    expect((await from('203.0.113.2')).status).toBe(101);
    expect((await from('203.0.113.1')).status).toBe(429);
  });

  it('refuses a user over maxConnectionsPerUser with LIMIT_EXCEEDED and close 4003', async () => {
    const authenticate: Authenticate<TestUser> = (params) => (params?.['user'] ? { id: params['user'] } : null);
    const { server } = cleanup.add(await startHardeningServer({ authenticate, limits: { maxConnectionsPerUser: 2 } }));
    const first = raw(server.url, { user: 'ann' });
    const second = raw(server.url, { user: 'ann' });
    for (const socket of [first, second]) {
      socket.send(request(1, 'query', 'whoami'));
      await socket.frame(answerTo(1));
    }
    const third = raw(server.url, { user: 'ann' });
    expect(errorCodeOf(await third.frame(answerTo(null)))).toBe('LIMIT_EXCEEDED');
    expect((await third.closed).code).toBe(CloseCode.LIMIT_EXCEEDED);
    // Another user, and anonymous connections, are not affected.
    const bob = raw(server.url, { user: 'bob' });
    bob.send(request(1, 'query', 'whoami'));
    expect(await bob.frame(answerTo(1))).toMatchObject({ result: { data: { json: { id: 'bob' } } } });
    // Once Ann closes one, she may open another.
    first.close();
    await pollUntil(async () => {
        const again = raw(server.url, { user: 'ann' });
        again.send(request(1, 'query', 'whoami'));
        const outcome = await Promise.race([again.frame(answerTo(1)).then(() => 'served'), again.closed.then(() => 'refused')]);
        again.close();
        return outcome;
      }, 'a slot for ann', { accept: (outcome) => outcome === 'served' });
    expect(metricValue(await scrape(server), 'herald_refusals_total', { reason: 'max_connections_per_user' })).toBeGreaterThanOrEqual(1);
  });
});

describe('memory per connection', () => {
  it('keeps no upgrade request alive once a connection is admitted (a few KiB per socket otherwise)', async () => {
    const requests: WeakRef<object>[] = [];
    const authenticate: Authenticate<TestUser> = (_params, request) => {
      requests.push(new WeakRef(request));
      return { id: `user-${requests.length}` };
    };
    const { server } = cleanup.add(await startHardeningServer({ authenticate }));
    const sockets = [raw(server.url, { user: 'a' }), raw(server.url, { user: 'b' })];
    for (const [index, socket] of sockets.entries()) {
      socket.send(request(1, 'query', 'whoami'));
      expect(await socket.frame(answerTo(1))).toMatchObject({ result: { data: { json: { id: `user-${index + 1}` } } } });
    }
    await heapAfterGc();
    expect(requests).toHaveLength(2);
    expect(requests.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    expect(server.connectionCount).toBe(2);
  });
});

describe('request rate', () => {
  it('answers requests over the token bucket with LIMIT_EXCEEDED, keeps the connection, and refills', async () => {
    const { server } = cleanup.add(await startHardeningServer({ limits: { rate: { perSecond: 20, burst: 5 } } }));
    const socket = raw(server.url);
    await socket.opened;
    socket.send(Array.from({ length: 12 }, (_, i) => request(i + 1, 'query', 'add', { a: i, b: 1 })));
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => socket.frame(answerTo(i + 1))));
    const refused = answers.filter((frame) => errorCodeOf(frame) === 'LIMIT_EXCEEDED');
    expect(answers.length - refused.length).toBe(5);
    expect(refused).toHaveLength(7);
    expect(JSON.stringify(refused[0])).toMatch(/Rate limit: at most 20 requests per second/);
    // `subscription.stop` is never refused (it only releases), and the bucket refills.
    socket.send({ id: 99, method: 'subscription.stop' });
    const served = await pollUntil(async () => {
        const id = 1_000 + Math.floor(Math.random() * 1e6);
        socket.send(request(id, 'query', 'add', { a: 1, b: 1 }));
        return socket.frame(answerTo(id));
      }, 'the bucket to refill', { accept: (frame) => errorCodeOf(frame) === null });
    expect(served).toMatchObject({ result: { data: { json: 2 } } });
    expect(socket.socket.readyState).toBe(WebSocket.OPEN);
    expect(metricValue(await scrape(server), 'herald_refusals_total', { reason: 'rate' })).toBeGreaterThanOrEqual(7);
  });
});

describe('slow consumers', () => {
  const PAD = 'x'.repeat(4_096);

  /** Publishes padded messages until the server has closed a slow consumer (bounded), returning how many it published. */
  async function floodUntilClosed(publish: (n: number) => Promise<unknown>, server: { httpUrl: string }, from = 1, max = 6_000): Promise<number> {
    let n = from;
    for (; n < from + max; n++) {
      await publish(n);
      // Let I/O run now and then: readers in this process must get to read, as they would on their own machines.
      if (n % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
      if (n % 200 === 0) {
        const closes = metricValue(await (await fetch(`${server.httpUrl}/metrics`)).text(), 'herald_slow_consumer_closes_total');
        if (closes > 0) return n;
      }
    }
    throw new Error(`no slow-consumer close after ${max} messages of ${PAD.length} bytes`);
  }

  it('closes a socket that stopped reading with 4002 once its buffer passes the bound, and memory stays bounded', async () => {
    const maxBufferedBytes = 262_144;
    const { server, app } = cleanup.add(await startHardeningServer({ limits: { maxBufferedBytes } }, { historySize: 50 }));
    const reader = raw(server.url);
    await reader.opened;
    reader.send(request(1, 'subscription', 'numbers', { stream: 'flood' }));
    await reader.frame((frame) => answerTo(1)(frame) && JSON.stringify(frame).includes('"live"'));
    // A well-behaved subscriber on the same stream keeps up throughout.
    const client = createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF });
    cleanup.add(client);
    const healthy = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'flood' }, handlers));
    cleanup.defer(() => healthy.unsubscribe());
    await healthy.waitForLive();
    const baseline = await heapAfterGc();

    tcpOf(reader.socket).pause();
    const published = await floodUntilClosed((n) => app.numbers.publish('flood', { n, pad: PAD }), server);
    // Its close frame sits behind everything it did not read; the server drops it after a grace period.
    await pollUntil(() => server.connectionCount, 'the slow consumer to be dropped', { accept: (count) => count === 1 });
    const exposition = await scrape(server);
    expect(metricValue(exposition, 'herald_slow_consumer_closes_total')).toBe(1);
    expect(metricValue(exposition, 'herald_connections')).toBe(1);

    const after = await heapAfterGc();
    // Megabytes went to a socket that read none of it; the server kept at most its bound of them.
    expect(published * PAD.length).toBeGreaterThan(8 * maxBufferedBytes);
    expect(after - baseline).toBeLessThan(16 * 1024 * 1024);

    // What the reader had received before it stalled ends with the 4002 close, once it reads again.
    tcpOf(reader.socket).resume();
    const closed = await reader.closed;
    expect([CloseCode.SLOW_CONSUMER, 1006]).toContain(closed.code);
    expect((await healthy.waitForMessages(published, 10_000)).map((m) => m.n)).toEqual(Array.from({ length: published }, (_, i) => i + 1));
  });

  it("closes a stalled Herald client with 4002; it reconnects, resumes from history and loses nothing", async () => {
    const { server, app } = cleanup.add(await startHardeningServer({ limits: { maxBufferedBytes: 262_144 } }, { historySize: 10_000 }));
    const sockets: WebSocket[] = [];
    class RecordingWebSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions) {
        super(address, protocols, options);
        sockets.push(this);
      }
    }
    const closeCodes: number[] = [];
    const client = createHeraldClient<HardeningRouter>({
      url: server.url,
      WebSocket: RecordingWebSocket as unknown as typeof globalThis.WebSocket,
      backoff: FAST_BACKOFF,
      onStateChange: (next) => {
        const code = next.status === 'reconnecting' ? /\((\d{4})/.exec(next.error?.message ?? '')?.[1] : undefined;
        if (code) closeCodes.push(Number(code));
      },
    });
    cleanup.add(client);
    const subscription = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'resume' }, handlers));
    cleanup.defer(() => subscription.unsubscribe());
    await subscription.waitForLive();
    const first = sockets[0];
    if (!first) throw new Error('no socket');

    tcpOf(first).pause();
    let published = await floodUntilClosed((n) => app.numbers.publish('resume', { n, pad: PAD }), server);
    // More messages while it is gone; then it reads again, sees the close, reconnects and resumes.
    for (let i = 0; i < 100; i++) await app.numbers.publish('resume', { n: ++published, pad: PAD });
    tcpOf(first).resume();
    const numbers = (await subscription.waitForMessages(published, 20_000)).map((m) => m.n);
    expect(numbers).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(subscription.events.filter(({ event }) => event.type === 'gap')).toEqual([]);
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    expect(closeCodes.length).toBeGreaterThanOrEqual(1);
    expect([CloseCode.SLOW_CONSUMER, 1006]).toContain(closeCodes[0]);
  });
});
