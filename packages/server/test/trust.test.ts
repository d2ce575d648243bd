/**
 * Trust for the whole life of a connection: credentials that expire, an
 * in-band refresh on the same socket, revocation across nodes, the
 * failed-authentication limit, request budgets that survive reconnects,
 * same-origin by default, and refusals that reach the call they refuse.
 */
import { Writable } from 'node:stream';
import { createTRPCClient, createWSClient, wsLink, type TRPCClientError } from '@trpc/client';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { CloseCode, HeraldError, transformer } from '@herald/server';
import { redisBroker } from '@herald/server/redis';
import { redisTargets } from './helpers/redisTargets.js';
import {
  answerTo,
  Cleanup,
  errorCodeOf,
  expiringToken,
  expiringTokenAuth,
  nextEvent,
  publishSteadily,
  range,
  rawSocket,
  recordChannel,
  request,
  startHardeningServer,
  testPrefix,
  upgradeStatus,
  type HardeningRouter,
  type HardeningServer,
  type TestUser,
} from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function serve(options: Parameters<typeof startHardeningServer>[0] = {}, app: Parameters<typeof startHardeningServer>[1] = {}) {
  const server = await startHardeningServer({ authenticate: expiringTokenAuth, ...options }, app);
  cleanup.add(server);
  return server;
}

function stockClient(server: HardeningServer, params: () => Record<string, string>) {
  const ws = createWSClient({ url: server.server.url, connectionParams: params, retryDelayMs: () => 50, WebSocket: WebSocket as never });
  cleanup.defer(() => ws.close());
  return createTRPCClient<HardeningRouter>({ links: [wsLink({ client: ws, transformer })] });
}

function heraldClient(server: HardeningServer, params: () => Record<string, string>, onRefreshError?: (error: TRPCClientError<HardeningRouter>) => void) {
  const client = createHeraldClient<HardeningRouter>({
    url: server.server.url,
    connectionParams: params,
    backoff: { initialDelayMs: 50, maxDelayMs: 200 },
    ...(onRefreshError ? { onRefreshError: onRefreshError as never } : {}),
  });
  cleanup.add(client);
  return client;
}

describe('credentials that expire', () => {
  it('closes the connection with TOKEN_EXPIRED past expiry and grace, and a request after expiry never runs', async () => {
    // Heartbeats far apart: the sweep does not close the socket before the late request arrives.
    const server = await serve({ auth: { expiryGraceMs: 100 }, heartbeat: { pingIntervalMs: 60_000, pongTimeoutMs: 60_000 } });
    const raw = rawSocket(server.server.url, { params: { token: expiringToken('ada', 300) } });
    await raw.opened;
    const notice = await raw.frame<{ params: { expiresInMs: number } }>((f) => (f as { method?: string }).method === 'herald.session');
    expect(notice.params.expiresInMs).toBeGreaterThan(0);
    expect(notice.params.expiresInMs).toBeLessThanOrEqual(300);
    raw.send(request(1, 'mutation', 'publish', { stream: 'expiry', n: 1 }));
    await raw.frame(answerTo(1));
    // The real clock is the point here: the request goes out once expiry and grace have passed.
    await new Promise((resolve) => setTimeout(resolve, notice.params.expiresInMs + 100 + 50));
    raw.send(request(2, 'mutation', 'publish', { stream: 'expiry', n: 2 }));
    const refused = await raw.frame(answerTo(2));
    expect(errorCodeOf(refused)).toBe('TOKEN_EXPIRED');
    expect((await raw.closed).code).toBe(CloseCode.TOKEN_EXPIRED);
    expect((await server.app.numbers.history('expiry')).messages.map((m) => m.message.n)).toEqual([1]);
  });

  it('ends an idle expired connection from the heartbeat sweep within the grace', async () => {
    const server = await serve({ auth: { expiryGraceMs: 100 }, heartbeat: { pingIntervalMs: 200, pongTimeoutMs: 200 } });
    const sentAt = Date.now();
    const raw = rawSocket(server.server.url, { params: { token: expiringToken('ada', 300) } });
    await raw.opened;
    const { code } = await raw.closed;
    expect(code).toBe(CloseCode.TOKEN_EXPIRED);
    // Expiry 300 ms, grace 100 ms, sweep every 50 ms: closed well before a second.
    expect(Date.now() - sentAt).toBeLessThan(1_500);
  });

  it('a stock tRPC client reconnects with fresh connectionParams and resumes with no loss and no duplicate', async () => {
    const server = await serve({ auth: { expiryGraceMs: 50 }, heartbeat: { pingIntervalMs: 100, pongTimeoutMs: 100 } });
    let issued = 0;
    const trpc = stockClient(server, () => {
      issued++;
      return { token: expiringToken('ada', 400) };
    });
    const recorded = recordChannel<{ n: number }>((handlers) => trpc.numbers.subscribe({ stream: 'stock' }, handlers));
    await recorded.waitForLive();
    await publishSteadily(server, 'stock', 60, 20);
    await recorded.waitForMessages(60, 10_000);
    expect(recorded.messages().map((m) => m.n)).toEqual(range(1, 60));
    expect(issued).toBeGreaterThan(1);
    expect(recorded.errors).toEqual([]);
  });
});

describe('in-band refresh', () => {
  it("refreshes a short-lived token many times on the same socket while messages flow: every message once, in order", async () => {
    const server = await serve({ auth: { expiryGraceMs: 200 } });
    let issued = 0;
    const refreshErrors: unknown[] = [];
    const client = heraldClient(
      server,
      () => {
        issued++;
        return { token: expiringToken('ada', 600) };
      },
      (error) => refreshErrors.push(error),
    );
    const recorded = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'refresh' }, handlers));
    await recorded.waitForLive();
    const opened = await openedConnections(server);
    await publishSteadily(server, 'refresh', 150, 20);
    await recorded.waitForMessages(150, 10_000);
    expect(recorded.messages().map((m) => m.n)).toEqual(range(1, 150));
    // 3 s of traffic on a 600 ms token: refreshed several times, on the one socket it opened.
    expect(issued).toBeGreaterThanOrEqual(4);
    expect(await openedConnections(server)).toBe(opened);
    expect(client.connection.current.status).toBe('open');
    expect(refreshErrors).toEqual([]);
  });

  it('refuses a refresh that names another user, and the connection ends at its old expiry', async () => {
    const server = await serve({ auth: { expiryGraceMs: 100 } });
    const raw = rawSocket(server.server.url, { params: { token: expiringToken('ada', 800) } });
    await raw.opened;
    await raw.frame((f) => (f as { method?: string }).method === 'herald.session');
    raw.send({ method: 'connectionParams', data: { token: expiringToken('mallory', 60_000) } });
    const refused = await raw.frame<{ params: { refused?: { heraldCode: string; message: string } } }>(
      (f) => (f as { method?: string; params?: { refused?: unknown } }).method === 'herald.session' && (f as { params: { refused?: unknown } }).params.refused !== undefined,
    );
    expect(refused.params.refused?.heraldCode).toBe('UNAUTHORIZED');
    expect(refused.params.refused?.message).toMatch(/keep the connection's user/);
    raw.send(request(1, 'query', 'whoami'));
    const me = await raw.frame<{ result: { data: { json: { id: string } } } }>(answerTo(1));
    expect(me.result.data.json.id).toBe('ada');
    expect((await raw.closed).code).toBe(CloseCode.TOKEN_EXPIRED);
  });

  it('a refresh that loses access to one channel ends that subscription only', async () => {
    const server = await serve(
      { auth: { expiryGraceMs: 1_000 } },
      { authorize: ({ ctx, key, action }) => action === 'publish' || key !== 'admins' || ctx?.user?.role === 'admin' },
    );
    let role = 'admin';
    const refreshErrors: unknown[] = [];
    const client = heraldClient(server, () => ({ token: expiringToken('ada', 400), role }), (error) => refreshErrors.push(error));
    const admins = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'admins' }, handlers));
    const lobby = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'lobby' }, handlers));
    await Promise.all([admins.waitForLive(), lobby.waitForLive()]);
    await server.app.numbers.publish('admins', { n: 1 });
    await server.app.numbers.publish('lobby', { n: 1 });
    await Promise.all([admins.waitForMessages(1), lobby.waitForMessages(1)]);
    role = 'member';
    // The next refresh (about 300 ms on) authorizes again: the admins subscription ends with FORBIDDEN.
    const ended = await nextEvent(admins, () => false, 5_000, 'the admins subscription to end').then(
      () => null,
      (error: Error) => error.cause,
    );
    expect(heraldCodeOfError(ended)).toBe('FORBIDDEN');
    await server.app.numbers.publish('admins', { n: 2 });
    await server.app.numbers.publish('lobby', { n: 2 });
    await lobby.waitForMessages(2);
    expect(admins.messages().map((m) => m.n)).toEqual([1]);
    expect(lobby.errors).toEqual([]);
    expect(refreshErrors).toEqual([]);
  });
});

describe.each(await redisTargets())('revocation on $name', (target) => {
  it("disconnectUser ends the user's sockets on every node sharing the Redis broker, and no one else's", async () => {
    const prefix = testPrefix();
    const brokers = [redisBroker({ ...target.options(), prefix }), redisBroker({ ...target.options(), prefix })];
    // Deferred first, so it runs after the servers (and their Heralds) closed.
    cleanup.defer(() => Promise.all(brokers.map((broker) => broker.close())).then(() => undefined));
    const nodes = await Promise.all(brokers.map((broker, i) => serve({ authenticate: userAuth }, { broker, nodeId: `node-${i}` })));
    const sockets = nodes.flatMap((node) => ['ada', 'bob'].map((user) => ({ user, raw: rawSocket(node.server.url, { params: { token: user } }) })));
    for (const { raw } of sockets) {
      await raw.opened;
      raw.send(request(1, 'query', 'whoami'));
      await raw.frame(answerTo(1));
    }
    const revokedAt = Date.now();
    await nodes[0]!.server.disconnectUser('ada', 'account suspended');
    const closes = await Promise.all(sockets.filter((s) => s.user === 'ada').map((s) => s.raw.closed));
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    for (const close of closes) expect(close).toEqual({ code: CloseCode.REVOKED, reason: 'account suspended' });
    for (const { raw } of sockets.filter((s) => s.user === 'bob')) expect(raw.socket.readyState).toBe(WebSocket.OPEN);
  });
});

describe('a client that does not hammer a server that said no', () => {
  it('answers upgrades from an address with HTTP 429 once it failed authentication too often', async () => {
    const server = await serve({ authenticate: userAuth, auth: { failedAttempts: { perSecond: 0.01, burst: 3 } } });
    for (let i = 0; i < 3; i++) {
      const raw = rawSocket(server.server.url, { params: { token: '' } });
      await raw.opened;
      expect((await raw.closed).code).toBe(CloseCode.UNAUTHORIZED);
    }
    expect(await upgradeStatus(server.server.url)).toBe(429);
  });

  it('keeps the request budget of a user across reconnects', async () => {
    const server = await serve({ authenticate: userAuth, limits: { rate: { perSecond: 0.01, burst: 5 } } });
    const first = rawSocket(server.server.url, { params: { token: 'ada' } });
    await first.opened;
    for (let id = 1; id <= 5; id++) first.send(request(id, 'query', 'add', { a: id, b: 0 }));
    for (let id = 1; id <= 5; id++) expect(errorCodeOf(await first.frame(answerTo(id)))).toBeNull();
    first.close();
    await first.closed;
    const second = rawSocket(server.server.url, { params: { token: 'ada' } });
    await second.opened;
    second.send(request(6, 'query', 'add', { a: 6, b: 0 }));
    expect(errorCodeOf(await second.frame(answerTo(6)))).toBe('LIMIT_EXCEEDED');
    // Another user has a budget of its own.
    const other = rawSocket(server.server.url, { params: { token: 'bob' } });
    await other.opened;
    other.send(request(1, 'query', 'add', { a: 1, b: 0 }));
    expect(errorCodeOf(await other.frame(answerTo(1)))).toBeNull();
  });
});

describe('origins', () => {
  it('accepts the server’s own origin and refuses a foreign one by default; "*" lets every origin in', async () => {
    const server = await serve({ authenticate: undefined });
    const own = `http://127.0.0.1:${server.server.port}`;
    expect(await upgradeStatus(server.server.url, { origin: own })).toBe(101);
    expect(await upgradeStatus(server.server.url, { origin: 'https://evil.example' })).toBe(403);
    expect(await upgradeStatus(server.server.url)).toBe(101);
    const open = await serve({ authenticate: undefined, allowedOrigins: '*' });
    expect(await upgradeStatus(open.server.url, { origin: 'https://evil.example' })).toBe(101);
    const http = await fetch(`${server.server.httpUrl}/trpc/add?input=${encodeURIComponent(JSON.stringify({ json: { a: 1, b: 2 } }))}`, {
      headers: { origin: 'https://evil.example' },
    });
    expect(http.status).toBe(403);
  });

  it('logs one warning when requests carry X-Forwarded-For while trustProxy is off', async () => {
    const lines: { msg?: string; level?: number }[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { msg?: string });
          done();
        },
      }),
    );
    const server = await serve({ authenticate: undefined, logger });
    for (let i = 0; i < 3; i++) expect(await upgradeStatus(server.server.url, { headers: { 'x-forwarded-for': '203.0.113.7' } })).toBe(101);
    const warnings = lines.filter((line) => /trustProxy/.test(line.msg ?? ''));
    expect(warnings).toHaveLength(1);
  });
});

describe('every refusal reaches the call it refuses', () => {
  it('an oversized batch from the stock client: every call settles with LIMIT_EXCEEDED', async () => {
    const server = await serve({ authenticate: undefined, limits: { maxBatchSize: 100 } });
    const trpc = stockClient(server, () => ({}));
    const results = await Promise.allSettled(range(1, 300).map((n) => trpc.add.query({ a: n, b: 0 })));
    expect(results).toHaveLength(300);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      expect(heraldCodeOfError((result as PromiseRejectedResult).reason)).toBe('LIMIT_EXCEEDED');
    }
  });

  it('logs a throwing createContext and keeps stack traces out of error answers unless in development', async () => {
    const lines: { msg?: string; err?: { message?: string } }[] = [];
    const logger = pino(
      { level: 'error' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()) as { msg?: string });
          done();
        },
      }),
    );
    const failing = await serve({
      authenticate: undefined,
      logger,
      createContext: () => {
        throw new Error('database down');
      },
    });
    const raw = rawSocket(failing.server.url);
    const refusal = await raw.frame<{ error: { json: { data: { stack?: string } } } }>((f) => (f as { id?: unknown }).id === null);
    expect(refusal.error.json.data.stack).toBeUndefined();
    expect((await raw.closed).code).toBe(CloseCode.INTERNAL_ERROR);
    expect(lines.some((line) => line.msg === 'createContext failed' && line.err?.message === 'database down')).toBe(true);

    const development = await serve({ authenticate: undefined, development: true });
    const dev = rawSocket(development.server.url);
    await dev.opened;
    dev.send(request(1, 'query', 'add', { a: 'not a number' }));
    const answer = await dev.frame<{ error: { json: { data: { stack?: string } } } }>(answerTo(1));
    expect(answer.error.json.data.stack).toMatch(/at /);
  });
});

/** A user per token: the token is the user id; an empty one is refused. */
function userAuth(params: Readonly<Record<string, string>> | null): TestUser {
  const id = params?.['token'];
  if (!id) throw new HeraldError('UNAUTHORIZED', 'No token');
  return { id };
}

function heraldCodeOfError(error: unknown): string | null {
  const data = (error as { data?: { heraldCode?: unknown } } | null)?.data;
  return typeof data?.heraldCode === 'string' ? data.heraldCode : null;
}

async function openedConnections(server: HardeningServer): Promise<number> {
  const text = (await server.server.metrics?.metrics()) ?? '';
  const match = /^herald_connections_opened_total (\d+)/m.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}
