import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { createFaultProxy, type FaultProxy } from '@herald/server/testing';

// Upper bound for any single wait, well under the 30 s test timeout so a hang fails with a clear message.
const WAIT_MS = 5_000;

interface Echo {
  readonly wss: WebSocketServer;
  readonly port: number;
  /** Server-side sockets, open or not. */
  readonly sockets: WebSocket[];
  /** Every message the server received, in order. */
  readonly received: string[];
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  // Reverse order: clients before proxies before servers.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startEcho(): Promise<Echo> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const echo: Echo = { wss, port: (wss.address() as AddressInfo).port, sockets: [], received: [] };
  wss.on('connection', (socket) => {
    echo.sockets.push(socket);
    socket.on('error', () => {});
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) echo.received.push(String(data));
      socket.send(data, { binary: isBinary });
    });
  });
  cleanups.push(async () => {
    for (const socket of wss.clients) socket.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return echo;
}

async function startProxy(echo: Echo): Promise<FaultProxy> {
  const proxy = await createFaultProxy({ target: { host: '127.0.0.1', port: echo.port } });
  cleanups.push(() => proxy.close());
  return proxy;
}

async function setup(): Promise<{ echo: Echo; proxy: FaultProxy }> {
  const echo = await startEcho();
  return { echo, proxy: await startProxy(echo) };
}

/** Rejects after `ms` so a missing event fails the test instead of hanging it. */
function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A client that queues incoming messages so none is missed between awaits. */
class Client {
  readonly ws: WebSocket;
  private readonly inbox: RawData[] = [];
  private readonly waiters: ((data: RawData) => void)[] = [];
  readonly closed: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.ws.on('message', (data: RawData) => {
      const waiter = this.waiters.shift();
      if (waiter) waiter(data);
      else this.inbox.push(data);
    });
    this.closed = new Promise((resolve) => this.ws.once('close', () => resolve()));
    cleanups.push(async () => {
      this.ws.terminate();
      await this.closed;
    });
  }

  static async open(url: string): Promise<Client> {
    const client = new Client(url);
    await within(
      new Promise<void>((resolve, reject) => {
        client.ws.once('open', () => resolve());
        client.ws.once('error', reject);
      }),
      `connection to ${url}`,
    );
    return client;
  }

  next(what = 'a message'): Promise<RawData> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return within(new Promise((resolve) => this.waiters.push(resolve)), what);
  }

  async nextText(): Promise<string> {
    return String(await this.next('a text message'));
  }

  async roundTrip(text: string): Promise<void> {
    this.ws.send(text);
    expect(await this.nextText()).toBe(text);
  }

  /** Nothing arrived that no test has read yet. */
  get pending(): number {
    return this.inbox.length;
  }
}

/** Resolves with the error a connection attempt fails with; rejects if it opens. */
function failedConnection(url: string): Promise<Error> {
  const ws = new WebSocket(url);
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  cleanups.push(async () => {
    ws.terminate();
    await closed;
  });
  return within(
    new Promise<Error>((resolve, reject) => {
      ws.once('open', () => reject(new Error('connection opened although the proxy refuses')));
      ws.once('error', resolve);
    }),
    'the refused connection to fail',
  );
}

describe('createFaultProxy', () => {
  it('passes text and large binary messages both ways', async () => {
    const { echo, proxy } = await setup();
    expect(proxy.url()).toBe(`ws://127.0.0.1:${proxy.port}/ws`);
    const client = await Client.open(proxy.url());
    expect(proxy.connectionCount).toBe(1);

    await client.roundTrip('hello');
    await client.roundTrip('');

    // Far above a TCP read, so the frame splitter has to reassemble it.
    const blob = randomBytes(200 * 1024);
    client.ws.send(blob);
    const back = await client.next('the binary echo');
    expect(Buffer.isBuffer(back)).toBe(true);
    expect((back as Buffer).equals(blob)).toBe(true);

    expect(echo.received).toEqual(['hello', '']);
    expect(proxy.stats.toServer).toMatchObject({ framesForwarded: 3, framesDropped: 0 });
    expect(proxy.stats.toClient).toMatchObject({ framesForwarded: 3, framesDropped: 0 });
  });

  it('cutAll closes every client and keeps accepting', async () => {
    const { proxy } = await setup();
    const a = await Client.open(proxy.url());
    const b = await Client.open(proxy.url());
    expect(proxy.connectionCount).toBe(2);

    proxy.cutAll();
    expect(proxy.connectionCount).toBe(0);
    await within(Promise.all([a.closed, b.closed]), 'both clients to close');

    const c = await Client.open(proxy.url());
    await c.roundTrip('still here');
    expect(proxy.connectionCount).toBe(1);
  });

  it('cutRandom(1) cuts every pair, cutRandom(0) none', async () => {
    const { proxy } = await setup();
    const clients = await Promise.all([0, 1, 2].map(() => Client.open(proxy.url())));

    expect(proxy.cutRandom(0)).toBe(0);
    expect(proxy.connectionCount).toBe(3);
    for (const client of clients) await client.roundTrip('alive');

    expect(proxy.cutRandom(1)).toBe(3);
    expect(proxy.connectionCount).toBe(0);
    await within(Promise.all(clients.map((client) => client.closed)), 'every client to close');
  });

  it('cutRandom uses the given random source', async () => {
    const { proxy } = await setup();
    // One at a time: rolls are consumed in accept order.
    const clients: Client[] = [];
    for (let i = 0; i < 3; i += 1) clients.push(await Client.open(proxy.url()));
    const rolls = [0.1, 0.9, 0.2];
    expect(proxy.cutRandom(0.5, () => rolls.shift()!)).toBe(2);
    expect(proxy.connectionCount).toBe(1);
    await within(Promise.all([clients[0]!.closed, clients[2]!.closed]), 'the two cut clients to close');
    expect(clients[1]!.ws.readyState).toBe(WebSocket.OPEN);
    await clients[1]!.roundTrip('survivor');
  });

  it('stall keeps sockets open but forwards nothing; resume forwards new messages', async () => {
    const { echo, proxy } = await setup();
    const client = await Client.open(proxy.url());
    await client.roundTrip('before');

    proxy.stall();
    client.ws.send('lost');
    // Wait until the proxy has really swallowed it, so resume() cannot race the bytes.
    await vi.waitFor(() => expect(proxy.stats.toServer.framesDropped).toBe(1), { timeout: WAIT_MS, interval: 5 });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    expect(echo.sockets[0]!.readyState).toBe(WebSocket.OPEN);
    expect(echo.received).toEqual(['before']);
    expect(client.pending).toBe(0);
    expect(proxy.connectionCount).toBe(1);

    proxy.resume();
    // Same TCP stream: had 'lost' got through, its echo would come first.
    await client.roundTrip('after');
    expect(echo.received).toEqual(['before', 'after']);
  });

  it('refuse fails new connections while existing ones work; accept restores', async () => {
    const { proxy } = await setup();
    const existing = await Client.open(proxy.url());

    proxy.refuse();
    const error = await failedConnection(proxy.url());
    expect(error).toBeInstanceOf(Error);
    await existing.roundTrip('still echoing');
    expect(proxy.connectionCount).toBe(1);

    proxy.accept();
    const fresh = await Client.open(proxy.url());
    await fresh.roundTrip('welcome back');
  });

  it('delay holds frames in one direction and keeps their order', async () => {
    const { proxy } = await setup();
    const client = await Client.open(proxy.url());
    await client.roundTrip('warm-up');

    proxy.delay('toClient', 150);
    const sentAt = performance.now();
    for (const text of ['one', 'two', 'three']) client.ws.send(text);
    const first = await client.nextText();
    const elapsed = performance.now() - sentAt;
    expect([first, await client.nextText(), await client.nextText()]).toEqual(['one', 'two', 'three']);
    expect(elapsed).toBeGreaterThanOrEqual(140);

    proxy.delay('toClient', 0);
    await client.roundTrip('prompt again');
  });

  it('drop discards only matching frames', async () => {
    const { echo, proxy } = await setup();
    const client = await Client.open(proxy.url());
    await client.roundTrip('warm-up');

    proxy.drop('toServer', (frame) => frame.payload.toString() === 'b');
    for (const text of ['a', 'b', 'c']) client.ws.send(text);
    expect(await client.nextText()).toBe('a');
    expect(await client.nextText()).toBe('c');
    expect(echo.received).toEqual(['warm-up', 'a', 'c']);
    expect(proxy.stats.toServer.framesDropped).toBe(1);

    proxy.drop('toServer', null);
    await client.roundTrip('b');
  });

  it('destroys only the pair whose stream declares an absurd frame length', async () => {
    const { proxy } = await setup();
    const errors: Error[] = [];
    const strict = await createFaultProxy({ target: { port: proxy.port }, onError: (error) => errors.push(error) });
    cleanups.push(() => strict.close());
    const healthy = await Client.open(strict.url());

    const raw: Socket = connect({ host: '127.0.0.1', port: strict.port });
    raw.on('error', () => {});
    cleanups.push(() => {
      raw.destroy();
    });
    await within(once(raw, 'connect'), 'the raw socket to connect');
    raw.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    const response = String((await within(once(raw, 'data'), 'the handshake response'))[0]);
    expect(response).toMatch(/^HTTP\/1\.1 101 /);
    // A masked binary frame claiming 2^40 payload bytes.
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(2n ** 40n, 2);
    raw.write(header);
    await within(once(raw, 'close'), 'the proxy to destroy the raw pair');

    expect(errors.map((error) => error.message).join('\n')).toMatch(/maxFrameBytes/);
    await healthy.roundTrip('unaffected');
  });

  it('close leaves no open sockets and stops listening', async () => {
    const { echo, proxy } = await setup();
    const clients = await Promise.all([0, 1].map(() => Client.open(proxy.url())));
    await vi.waitFor(() => expect(echo.sockets).toHaveLength(2), { timeout: WAIT_MS });
    proxy.delay('toClient', 10_000);
    clients[0]!.ws.send('pending behind a long delay');

    await within(proxy.close(), 'proxy.close()');
    expect(proxy.connectionCount).toBe(0);
    await within(
      Promise.all(echo.sockets.map((socket) => (socket.readyState === WebSocket.CLOSED ? undefined : once(socket, 'close')))),
      'the server to see every connection closed',
    );
    expect(echo.wss.clients.size).toBe(0);
    await within(Promise.all(clients.map((client) => client.closed)), 'the clients to close');

    const probe = connect({ host: '127.0.0.1', port: proxy.port });
    const [probeError] = (await within(once(probe, 'error'), 'the probe to be refused')) as [NodeJS.ErrnoException];
    expect(probeError.code).toBe('ECONNREFUSED');
    await proxy.close();
  });

  it('rejects invalid arguments with clear messages', async () => {
    await expect(createFaultProxy({ target: { port: 0 } })).rejects.toThrow(/target\.port/);
    const { proxy } = await setup();
    expect(() => proxy.cutRandom(1.5)).toThrow(/fraction/);
    expect(() => proxy.delay('toClient', -1)).toThrow(/ms must be/);
    expect(() => proxy.delay('sideways' as 'toClient', 1)).toThrow(/direction/);
    expect(() => proxy.drop('toServer', 'b' as unknown as null)).toThrow(/predicate/);
    expect(() => proxy.url('ws')).toThrow(/path/);
  });
});
