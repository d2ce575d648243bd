/**
 * Credentials over the HTTP fallback never travel in a URL: Herald's client
 * sends them in the `Herald-Connection-Params` header (Node's EventSource
 * takes a `fetch`), or, with an EventSource that sends no headers (the
 * browser's own), exchanges them for a single-use, short-lived ticket that
 * any node sharing the broker redeems. A stream the server ends at expiry
 * reconnects with fresh credentials and resumes.
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource as FetchEventSource } from 'eventsource';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { transformer } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { CONNECTION_PARAMS_HEADER, STREAM_TICKET_PATH } from '@herald/shared/internal';
import {
  Cleanup,
  expiringToken,
  expiringTokenAuth,
  expiryOf,
  FAST_BACKOFF,
  publishSteadily,
  range,
  recordChannel,
  REDIS_URL,
  startHardeningServer,
  testPrefix,
  type HardeningRouter,
  type HardeningServer,
} from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(async () => {
  await cleanup.run();
  vi.unstubAllGlobals();
});

async function serve(options: Parameters<typeof startHardeningServer>[0] = {}, app: Parameters<typeof startHardeningServer>[1] = {}) {
  return cleanup.add(await startHardeningServer({ authenticate: expiringTokenAuth, ...options }, app));
}

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * A plain HTTP proxy in front of a server that records every request it
 * forwards (method, URL, headers): what an access log would keep.
 */
async function recordingProxy(target: HardeningServer): Promise<{ readonly wsUrl: string; readonly seen: Seen[] }> {
  const seen: Seen[] = [];
  const { port } = new URL(target.server.httpUrl);
  const proxy = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const upstream = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      // A response the server cut (a stream ended at expiry) is cut for the client too.
      answer.on('close', () => {
        if (!answer.complete) res.destroy();
      });
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  cleanup.defer(
    () =>
      new Promise<void>((resolve) => {
        proxy.closeAllConnections();
        proxy.close(() => resolve());
      }),
  );
  return { wsUrl: `ws://127.0.0.1:${(proxy.address() as AddressInfo).port}/ws`, seen };
}

/** An EventSource that sends no headers of its own choosing, as the browser's: it ignores the `fetch` it is given. */
class HeaderlessEventSource extends FetchEventSource {
  constructor(url: string | URL, init?: { withCredentials?: boolean }) {
    super(url, { withCredentials: init?.withCredentials ?? false });
  }
}

function httpClient(wsUrl: string, params: () => Record<string, string>, options: Partial<Parameters<typeof createHeraldClient>[0]> = {}) {
  return cleanup.add(createHeraldClient<HardeningRouter>({ url: wsUrl, transport: 'http', http: httpTransport, connectionParams: params, backoff: FAST_BACKOFF, ...options }));
}

const streamRequests = (seen: Seen[]) => seen.filter((s) => s.method === 'GET' && s.url.includes('/trpc/numbers'));

/** Every secret the client sent stays out of every URL the proxy saw. */
function expectNoCredentialsInUrls(seen: Seen[], secrets: string[]): void {
  expect(seen.length).toBeGreaterThan(0);
  for (const { url } of seen) {
    expect(url).not.toContain('connectionParams');
    for (const secret of secrets) expect(decodeURIComponent(url)).not.toContain(secret);
  }
}

describe('credentials in a header', () => {
  it("Herald's client over HTTP in Node sends every connectionParam in the header, never in a URL", async () => {
    const server = await serve();
    const proxy = await recordingProxy(server);
    const secret = expiringToken('ann', 60_000);
    const client = httpClient(proxy.wsUrl, () => ({ token: secret, role: 'editor' }));
    expect(await client.trpc.whoami.query()).toEqual({ id: 'ann', role: 'editor' });
    const recorded = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'header' }, handlers));
    await recorded.waitForLive();
    await server.app.numbers.publish('header', { n: 1 });
    await recorded.waitForMessages(1, 5_000);

    expectNoCredentialsInUrls(proxy.seen, [secret, 'editor']);
    const [stream] = streamRequests(proxy.seen);
    expect(stream?.url).not.toContain('ticket=');
    expect(JSON.parse(decodeURIComponent(String(stream?.headers[CONNECTION_PARAMS_HEADER])))).toEqual({ token: secret, role: 'editor' });
    expect(proxy.seen.some((s) => s.url.includes(STREAM_TICKET_PATH))).toBe(false);
  });

  it('still reads a stock client’s ?connectionParams= and Authorization: Bearer, and refuses a malformed header', async () => {
    const server = await serve();
    const base = `${server.server.httpUrl}/trpc`;
    const whoami = async (init: RequestInit, query = '') => {
      const response = await fetch(`${base}/whoami${query}`, init);
      return { status: response.status, body: (await response.json()) as { result?: { data: never } } };
    };
    const bearer = await whoami({ headers: { authorization: `Bearer ${expiringToken('bob', 60_000)}` } });
    expect(transformer.deserialize(bearer.body.result!.data)).toEqual({ id: 'bob', role: 'member' });
    const header = await whoami({ headers: { [CONNECTION_PARAMS_HEADER]: encodeURIComponent(JSON.stringify({ token: expiringToken('cy', 60_000), role: 'ünïcode' })) } });
    expect(transformer.deserialize(header.body.result!.data)).toEqual({ id: 'cy', role: 'ünïcode' });
    expect((await whoami({ headers: { [CONNECTION_PARAMS_HEADER]: '%E0%A4%A' } })).status).toBe(400);
    expect((await whoami({ headers: { [CONNECTION_PARAMS_HEADER]: encodeURIComponent('[1]') } })).status).toBe(400);

    // A stock `httpSubscriptionLink` stream: tRPC's protocol, kept as it is.
    const params = encodeURIComponent(JSON.stringify({ token: expiringToken('dee', 60_000) }));
    const input = encodeURIComponent(JSON.stringify(transformer.serialize({ stream: 'stock' })));
    const stock = await fetch(`${base}/numbers?input=${input}&connectionParams=${params}`, { headers: { accept: 'text/event-stream' } });
    expect(stock.status).toBe(200);
    expect(stock.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await stock.body?.cancel();
  });
});

describe('stream tickets', () => {
  it('with an EventSource that sends no headers, a stream URL carries only a single-use ticket', async () => {
    vi.stubGlobal('EventSource', HeaderlessEventSource);
    const server = await serve({ metrics: {} });
    const proxy = await recordingProxy(server);
    const secret = expiringToken('ann', 60_000);
    const client = httpClient(proxy.wsUrl, () => ({ token: secret, role: 'editor' }), { EventSource: HeaderlessEventSource });
    const recorded = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'ticket' }, handlers));
    await recorded.waitForLive();
    await server.app.numbers.publish('ticket', { n: 1 });
    await recorded.waitForMessages(1, 5_000);

    expectNoCredentialsInUrls(proxy.seen, [secret, 'editor']);
    const [stream] = streamRequests(proxy.seen);
    const ticket = new URL(stream!.url, 'http://x').searchParams.get('ticket');
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(ticket).not.toContain(secret);
    expect(stream?.headers[CONNECTION_PARAMS_HEADER]).toBeUndefined();
    const exchange = proxy.seen.find((s) => s.url.endsWith(`/trpc/${STREAM_TICKET_PATH}`));
    expect(exchange?.method).toBe('POST');
    expect(exchange?.headers[CONNECTION_PARAMS_HEADER]).toBeDefined();

    // The URL an access log kept is worthless: its ticket was used.
    const replay = await fetch(`${server.server.httpUrl}${stream!.url}`, { headers: { accept: 'text/event-stream' } });
    expect(replay.status).toBe(401);
    const shape = transformer.deserialize(((await replay.json()) as { error: never }).error) as { message: string; data: { heraldCode: string } };
    expect(shape.data.heraldCode).toBe('UNAUTHORIZED');
    expect(shape.message).toMatch(/used already: get a new ticket/);
    const metrics = await (await fetch(`${server.server.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/herald_refusals_total\{reason="stream_ticket"\} 1/);
  });

  it('gets a new ticket for every connection of a stream, with the credentials of that moment', async () => {
    vi.stubGlobal('EventSource', HeaderlessEventSource);
    const server = await serve({ auth: { expiryGraceMs: 50 } });
    const proxy = await recordingProxy(server);
    const issued: string[] = [];
    const client = httpClient(
      proxy.wsUrl,
      () => {
        issued.push(expiringToken('ann', 700));
        return { token: issued.at(-1)! };
      },
      { EventSource: HeaderlessEventSource },
    );
    const recorded = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'tickets' }, handlers));
    await recorded.waitForLive();
    await publishSteadily(server, 'tickets', 100, 20);
    await recorded.waitForMessages(100, 10_000);
    expect(recorded.messages().map((m) => m.n)).toEqual(range(1, 100));
    expect(recorded.errors).toEqual([]);

    const tickets = streamRequests(proxy.seen).map((s) => new URL(s.url, 'http://x').searchParams.get('ticket'));
    expect(tickets.length).toBeGreaterThanOrEqual(2);
    expect(new Set(tickets).size).toBe(tickets.length);
    expectNoCredentialsInUrls(proxy.seen, issued);
  });

  it('refuses a ticket exchange without valid credentials, and a made-up ticket, counting both against the address', async () => {
    const server = await serve({ auth: { failedAttempts: { perSecond: 0.01, burst: 2 } } });
    const base = `${server.server.httpUrl}/trpc`;
    const exchange = (headers: Record<string, string>) => fetch(`${base}/${STREAM_TICKET_PATH}`, { method: 'POST', headers });
    expect((await fetch(`${base}/${STREAM_TICKET_PATH}`)).status).toBe(405);
    // No credentials at all is a client's mistake, not a guess: it does not count.
    expect((await exchange({})).status).toBe(401);
    const expired = encodeURIComponent(JSON.stringify({ token: expiringToken('ann', -1) }));
    expect((await exchange({ [CONNECTION_PARAMS_HEADER]: expired })).status).toBe(401);
    const input = encodeURIComponent(JSON.stringify(transformer.serialize({ stream: 'x' })));
    const madeUp = await fetch(`${base}/numbers?input=${input}&ticket=${'A'.repeat(43)}`, { headers: { accept: 'text/event-stream' } });
    expect(madeUp.status).toBe(401);
    expect(((await madeUp.json()) as { error: { json: { message: string } } }).error.json.message).toMatch(/Unknown or expired stream ticket/);
    // One refused token and one refused ticket: the address is out of attempts.
    const valid = encodeURIComponent(JSON.stringify({ token: expiringToken('ann', 60_000) }));
    expect((await exchange({ [CONNECTION_PARAMS_HEADER]: valid })).status).toBe(429);
  });

  it('a ticket issued by one node is redeemed once by another sharing the Redis broker', async () => {
    const prefix = testPrefix();
    const brokers = [redisBroker({ url: REDIS_URL, prefix }), redisBroker({ url: REDIS_URL, prefix })];
    cleanup.defer(() => Promise.all(brokers.map((broker) => broker.close())).then(() => undefined));
    const [one, two] = await Promise.all(brokers.map((broker, i) => serve({}, { broker, nodeId: `node-${i}` })));
    const params = encodeURIComponent(JSON.stringify({ token: expiringToken('ann', 60_000) }));
    const issued = await fetch(`${one!.server.httpUrl}/trpc/${STREAM_TICKET_PATH}`, { method: 'POST', headers: { [CONNECTION_PARAMS_HEADER]: params } });
    expect(issued.status).toBe(200);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    const { ticket, expiresInMs } = (await issued.json()) as { ticket: string; expiresInMs: number };
    expect(expiresInMs).toBe(30_000);

    const input = encodeURIComponent(JSON.stringify(transformer.serialize({ stream: 'cross' })));
    const streamUrl = (node: HardeningServer) => `${node.server.httpUrl}/trpc/numbers?input=${input}&ticket=${ticket}`;
    const controller = new AbortController();
    cleanup.defer(() => controller.abort());
    const redeemed = await fetch(streamUrl(two!), { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    expect(redeemed.status).toBe(200);
    expect(redeemed.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const again = await fetch(streamUrl(one!), { headers: { accept: 'text/event-stream' } });
    expect(again.status).toBe(401);
    await again.body?.cancel();
  });
});

describe('credentials that expire over HTTP', () => {
  it('ends the stream at expiry; the client reconnects it with a fresh token from connectionParams and resumes: every message once, in order', async () => {
    const server = await serve({ auth: { expiryGraceMs: 50 } });
    const proxy = await recordingProxy(server);
    const issued: string[] = [];
    const client = httpClient(proxy.wsUrl, () => {
      issued.push(expiringToken('ann', 600));
      return { token: issued.at(-1)! };
    });
    const recorded = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'expiry' }, handlers));
    await recorded.waitForLive();
    await publishSteadily(server, 'expiry', 150, 20);
    await recorded.waitForMessages(150, 10_000);
    expect(recorded.messages().map((m) => m.n)).toEqual(range(1, 150));
    expect(recorded.errors).toEqual([]);

    // 3 s of traffic on 600 ms tokens: the stream was ended and reconnected several times, each time with a token issued for it.
    const streams = streamRequests(proxy.seen);
    expect(streams.length).toBeGreaterThanOrEqual(3);
    const tokens = streams.map((s) => (JSON.parse(decodeURIComponent(String(s.headers[CONNECTION_PARAMS_HEADER]))) as { token: string }).token);
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const used of tokens) expect(issued).toContain(used);
    expectNoCredentialsInUrls(proxy.seen, issued);
  });

  it('plans refreshes from the heartbeat’s expiry: an app that can renew only a still-valid token keeps a busy stream going', async () => {
    // Like a real app: a new token needs the current one to be valid (a refresh endpoint), so the
    // client must ask before expiry, not when a stream reconnects after it.
    const server = await serve({ auth: { expiryGraceMs: 100 } });
    let current = expiringToken('ann', 1_000);
    let renewals = 0;
    const client = httpClient(server.server.url, () => {
      if (expiryOf(current) - Date.now() < 500 && expiryOf(current) > Date.now()) {
        current = expiringToken('ann', 1_000);
        renewals++;
      }
      return { token: current };
    });
    const recorded = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'busy' }, handlers));
    await recorded.waitForLive();
    // 4 s of messages every 20 ms: the stream is never quiet enough for a heartbeat of its own.
    await publishSteadily(server, 'busy', 200, 20);
    await recorded.waitForMessages(200, 10_000);
    expect(recorded.messages().map((m) => m.n)).toEqual(range(1, 200));
    expect(recorded.errors).toEqual([]);
    expect(renewals).toBeGreaterThanOrEqual(3);
  });
});
