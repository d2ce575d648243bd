/**
 * Herald's client against servers that say no: refused credentials (4001),
 * a `createContext` that throws right after the socket opens, and upgrades
 * refused with an HTTP status (404 wrong path, 403 origin, 429 full). Real
 * servers on port 0; every wait follows the client's connection state.
 */
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { createHeraldClient, type ConnectionState, type ConnectionStateSource } from '@herald/client';
import { HeraldError, type Authenticate } from '@herald/server';
import { CloseCode, heraldCodeOf, transformer } from '@herald/shared';
import { Cleanup, FAST_BACKOFF, startHardeningServer, trpcErrorOf, withTimeout, type HardeningRouter, type TestUser } from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Bound on any single wait for a state: far above what each needs. */
const WAIT_MS = 10_000;

/** Resolves with the first state (the current one included) that `accept` takes. */
function stateReached<T extends ConnectionState>(source: ConnectionStateSource, accept: (state: ConnectionState) => state is T): Promise<T>;
function stateReached(source: ConnectionStateSource, accept: (state: ConnectionState) => boolean): Promise<ConnectionState>;
function stateReached(source: ConnectionStateSource, accept: (state: ConnectionState) => boolean): Promise<ConnectionState> {
  if (accept(source.current)) return Promise.resolve(source.current);
  return withTimeout(
    new Promise<ConnectionState>((resolve) => {
      const stop = source.subscribe((state) => {
        if (!accept(state)) return;
        stop();
        resolve(state);
      });
    }),
    WAIT_MS,
    'connection state',
  );
}

/** Every state the client moves to, in order. */
function recordStates(source: ConnectionStateSource): ConnectionState[] {
  const states: ConnectionState[] = [];
  cleanup.defer(source.subscribe((state) => states.push(state)));
  return states;
}

/** The statuses of `states`, each run of one status (`connecting` gaining its URL) counted once. */
function statusesOf(states: readonly ConnectionState[]): ConnectionState['status'][] {
  return states.map((state) => state.status).filter((status, i, all) => status !== all[i - 1]);
}

type ClosedState = Extract<ConnectionState, { status: 'closed' }>;
const isClosed = (state: ConnectionState): state is ClosedState => state.status === 'closed';

/** `ws` with an `Origin` header, as a browser page on `origin` would send. */
function webSocketFrom(origin: string): typeof globalThis.WebSocket {
  class FromOrigin extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions) {
      super(address, protocols, { ...options, origin });
    }
  }
  return FromOrigin as unknown as typeof globalThis.WebSocket;
}

describe('refused credentials (4001)', () => {
  it('retries once with fresh connectionParams, then stops in closed; waiting calls fail with UNAUTHORIZED; reconnect() opens it again', async () => {
    let accepting = false;
    let upgrades = 0;
    const authenticate: Authenticate<TestUser> = (params) => {
      upgrades++;
      if (!accepting) throw new HeraldError('UNAUTHORIZED', 'token revoked');
      return { id: params?.['token'] ?? 'nobody' };
    };
    const { server } = cleanup.add(await startHardeningServer({ authenticate }));
    let paramsCalls = 0;
    const client = cleanup.add(
      createHeraldClient<HardeningRouter>({
        url: server.url,
        backoff: FAST_BACKOFF,
        connectionParams: () => ({ token: `token-${++paramsCalls}` }),
      }),
    );
    const states = recordStates(client.connection);
    const pending = trpcErrorOf(client.trpc.whoami.query());

    const closed = await stateReached(client.connection, isClosed);
    expect(closed.refusal).toMatchObject({ closeCode: CloseCode.UNAUTHORIZED, httpStatus: null });
    expect(closed.refusal?.error.message).toMatch(/4001.*token revoked/);
    // Two attempts: the first, and one retry that asked for credentials again.
    expect(upgrades).toBe(2);
    expect(paramsCalls).toBe(2);
    const retried = states.filter((state) => state.status === 'reconnecting');
    expect(retried).toHaveLength(1);
    expect(retried[0]).toMatchObject({ attempt: 1, closeCode: CloseCode.UNAUTHORIZED });

    // The call made before the refusals settles instead of hanging, and so does one made while stopped.
    expect(heraldCodeOf(await pending)).toBe('UNAUTHORIZED');
    const whileStopped = await trpcErrorOf(client.trpc.whoami.query());
    expect(heraldCodeOf(whileStopped)).toBe('UNAUTHORIZED');
    expect(whileStopped.message).toMatch(/reconnect\(\)/);
    expect(upgrades).toBe(2);

    // The user signs in again: the app calls reconnect(), which asks for credentials once more.
    accepting = true;
    client.reconnect();
    await stateReached(client.connection, (state) => state.status === 'open');
    expect(await client.trpc.whoami.query()).toEqual({ id: 'token-3' });
    expect(upgrades).toBe(3);
    expect(statusesOf(states)).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed', 'connecting', 'open']);
  });

  it('starts the refusal count over once a connection was served, and close() stays final after a refusal', async () => {
    const refused = new Set(['stale-1', 'stale-2', 'stale-3']);
    const authenticate: Authenticate<TestUser> = (params) => {
      const token = params?.['token'] ?? '';
      if (refused.has(token)) throw new HeraldError('UNAUTHORIZED', `${token} refused`);
      return { id: token };
    };
    const { server } = cleanup.add(await startHardeningServer({ authenticate }));
    const tokens = ['stale-1', 'fresh-1', 'stale-2', 'stale-3'];
    let paramsCalls = 0;
    const client = cleanup.add(
      createHeraldClient<HardeningRouter>({
        url: server.url,
        backoff: FAST_BACKOFF,
        connectionParams: () => ({ token: tokens[Math.min(paramsCalls++, tokens.length - 1)]! }),
      }),
    );
    // One refusal, then a served connection: open, not stopped.
    expect(await client.trpc.whoami.query()).toEqual({ id: 'fresh-1' });
    // The server asks for a reconnect: the next two tokens are refused, so the client stops.
    server.broadcastReconnect();
    const closed = await stateReached(client.connection, isClosed);
    expect(closed.refusal?.closeCode).toBe(CloseCode.UNAUTHORIZED);
    expect(paramsCalls).toBe(4);

    await client.close();
    expect(client.connection.current).toEqual({ status: 'closed' });
    client.reconnect();
    expect(client.connection.current).toEqual({ status: 'closed' });
    expect(heraldCodeOf(await trpcErrorOf(client.trpc.whoami.query()))).toBe('CLIENT_CLOSED');
  });
});

describe('refused credentials from a stock tRPC server', () => {
  it('reads the UNAUTHORIZED error it sends for the connection before it closes (with no close code) as a refusal', async () => {
    let contexts = 0;
    const t = initTRPC.create({ transformer });
    const router = t.router({ ping: t.procedure.query(() => 'pong') });
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const handler = applyWSSHandler({
      wss,
      router,
      createContext: () => {
        contexts++;
        throw new TRPCError({ code: 'UNAUTHORIZED', message: 'session ended' });
      },
    });
    cleanup.defer(async () => {
      handler.broadcastReconnectNotification();
      for (const socket of wss.clients) socket.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    });
    const client = cleanup.add(
      createHeraldClient<typeof router>({
        url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
        backoff: FAST_BACKOFF,
        connectionParams: () => ({ token: 'old' }),
      }),
    );
    const pending = trpcErrorOf(client.trpc.ping.query());
    const closed = await stateReached(client.connection, isClosed);
    expect(closed.refusal?.closeCode).not.toBe(CloseCode.UNAUTHORIZED);
    expect(closed.refusal?.error.message).toMatch(/session ended/);
    expect(contexts).toBe(2);
    // The stock server answers the query with the same refusal itself, or the stopped client fails it.
    expect((await pending).data).toMatchObject({ code: 'UNAUTHORIZED' });
  });
});

describe('a connection the server closes right after it opens', () => {
  it('does not reset the backoff, and a waiting query fails with OUTCOME_UNKNOWN (it was sent) by its deadline', async () => {
    let contexts = 0;
    const { server } = cleanup.add(
      await startHardeningServer({
        createContext: () => {
          contexts++;
          throw new Error('database down');
        },
      }),
    );
    const maxAgeMs = 1_500;
    const client = cleanup.add(
      createHeraldClient<HardeningRouter>({
        url: server.url,
        backoff: { initialDelayMs: 20, maxDelayMs: 400 },
        offlineQueue: { maxAgeMs },
      }),
    );
    const states = recordStates(client.connection);
    const pending = trpcErrorOf(client.trpc.whoami.query());

    const sixth = await stateReached(client.connection, (state) => state.status === 'reconnecting' && state.attempt === 6);
    expect(sixth).toMatchObject({ closeCode: CloseCode.INTERNAL_ERROR });
    // Every socket opened (the server accepts the upgrade) and every one was
    // closed at once; the attempt count never started over.
    const attempts = states.flatMap((state) => (state.status === 'reconnecting' ? [state.attempt] : []));
    expect(attempts).toEqual([1, 2, 3, 4, 5, 6]);
    expect(contexts).toBe(6);

    // The query rode along on every short-lived socket and was never
    // answered; its deadline counts from when it was made. It was written to
    // those sockets, so it is not reported as "never sent" (OFFLINE_TIMEOUT).
    const error = await withTimeout(pending, maxAgeMs + WAIT_MS, 'the waiting query');
    expect(heraldCodeOf(error)).toBe('OUTCOME_UNKNOWN');
    // With the backoff reset on every open this window held a storm (about
    // one connection per 10 ms); growing delays up to 400 ms allow about a dozen.
    expect(contexts).toBeLessThan(30);
    expect(client.connection.current.status).not.toBe('closed');
  });
});

describe('an upgrade refused with an HTTP status', () => {
  it('404 (wrong path): the state carries the status and the server\'s hint, and the client stops after one retry', async () => {
    const { server } = cleanup.add(await startHardeningServer());
    const client = cleanup.add(createHeraldClient<HardeningRouter>({ url: server.url.replace(/\/ws$/, '/wrong-path'), backoff: FAST_BACKOFF }));
    const pending = trpcErrorOf(client.trpc.whoami.query());

    const retrying = await stateReached(client.connection, (state) => state.status === 'reconnecting');
    expect(retrying).toMatchObject({ attempt: 1, httpStatus: 404 });
    // Node's client reads the refusal's body: the server names the path it upgrades on.
    if (retrying.status === 'reconnecting') expect(retrying.error?.message).toBe('The server refused the WebSocket upgrade with HTTP 404: WebSocket connections upgrade on /ws');

    const closed = await stateReached(client.connection, isClosed);
    expect(closed.refusal).toMatchObject({ closeCode: null, httpStatus: 404 });
    const error = await pending;
    expect(error.data).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });
    expect(error.message).toMatch(/HTTP 404: WebSocket connections upgrade on \/ws/);
  });

  it('a socket that closes before it opens, with no more said (as browsers report every failure): the state names the address', async () => {
    // A fake: no real server answers an upgrade with a wrong Sec-WebSocket-Accept, but a broken proxy can, and it
    // is the one way Node's client sees what a browser's always does: a close (1006) before the socket opened, nothing more.
    const broken = createNetServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n'));
    });
    await new Promise<void>((listening) => broken.listen(0, '127.0.0.1', listening));
    cleanup.defer(() => new Promise<void>((closed) => broken.close(() => closed())));
    const url = `ws://127.0.0.1:${(broken.address() as AddressInfo).port}/ws`;
    const client = cleanup.add(createHeraldClient<HardeningRouter>({ url, backoff: FAST_BACKOFF }));
    const retrying = await stateReached(client.connection, (state) => state.status === 'reconnecting' && state.error !== null);
    if (retrying.status !== 'reconnecting') throw new Error('unreachable');
    expect(retrying.error?.message).toBe(`Could not connect to ${url}: WebSocket closed (1006) before it opened`);
  });

  it('a port nothing listens on: the state names the address and ECONNREFUSED', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = new WebSocketServer({ port: 0, host: '127.0.0.1' }, () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const url = `ws://127.0.0.1:${closedPort}/ws`;
    const client = cleanup.add(createHeraldClient<HardeningRouter>({ url, backoff: FAST_BACKOFF }));
    const retrying = await stateReached(client.connection, (state) => state.status === 'reconnecting' && state.error !== null);
    if (retrying.status !== 'reconnecting') throw new Error('unreachable');
    expect(retrying.error?.message).toBe(`Could not connect to ${url}: connect ECONNREFUSED 127.0.0.1:${closedPort}`);
    expect(retrying.error?.cause).toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('403 (origin not allowed): the state carries the status, calls fail with FORBIDDEN; an allowed origin opens', async () => {
    const { server } = cleanup.add(await startHardeningServer({ allowedOrigins: ['https://chat.example'] }));
    const foreign = cleanup.add(
      createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF, WebSocket: webSocketFrom('https://elsewhere.example') }),
    );
    const pending = trpcErrorOf(foreign.trpc.whoami.query());
    const closed = await stateReached(foreign.connection, isClosed);
    expect(closed.refusal).toMatchObject({ closeCode: null, httpStatus: 403 });
    const error = await pending;
    expect(heraldCodeOf(error)).toBe('FORBIDDEN');
    expect(error.data).toMatchObject({ httpStatus: 403 });

    const allowed = cleanup.add(createHeraldClient<HardeningRouter>({ url: server.url, WebSocket: webSocketFrom('https://chat.example') }));
    expect(await allowed.trpc.add.query({ a: 1, b: 2 })).toBe(3);
  });

  it('429 (server full for this address): keeps retrying with the status in its state, and opens once a slot frees', async () => {
    const { server } = cleanup.add(await startHardeningServer({ limits: { maxConnectionsPerIp: 1 } }));
    const first = createHeraldClient<HardeningRouter>({ url: server.url });
    cleanup.add(first);
    await stateReached(first.connection, (state) => state.status === 'open');

    const second = cleanup.add(createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF }));
    const states = recordStates(second.connection);
    const answer = second.trpc.add.query({ a: 2, b: 3 });
    const refused = await stateReached(second.connection, (state) => state.status === 'reconnecting');
    expect(refused).toMatchObject({ httpStatus: 429 });

    await first.close();
    expect(await withTimeout(answer, WAIT_MS, 'the query after the slot freed')).toBe(5);
    expect(states.some((state) => state.status === 'closed')).toBe(false);
  });
});
