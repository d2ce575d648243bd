import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { createHeraldClient } from '@herald/client';
import { createHeraldHandler, transformer, type HeraldHandlerOptions } from '@herald/server';
import {
  CLIENT_KINDS,
  Cleanup,
  createHardeningApp,
  FAST_BACKOFF,
  HELLO,
  makeClient,
  recordChannel,
  startAttached,
  upgrade,
  upgradeStatus,
  withTimeout,
  type HardeningRouter,
  type TestUser,
} from '@herald/test-kit';

/**
 * Herald on an app's own server: `attachHerald` (through the kit's
 * `startAttached`, a plain Node server answering `GET /hello`) and
 * `createHeraldHandler` under an app's own upgrade listener. The refusals of
 * every door, attached, run in gate.test.ts.
 */

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const addUrl = (httpUrl: string) => `${httpUrl}/trpc/add?input=${encodeURIComponent(JSON.stringify(transformer.serialize({ a: 2, b: 3 })))}`;

/** The hardening app attached to a plain Node server answering `GET /hello`; closed (server, then app) at cleanup. */
async function attached(options: Omit<HeraldHandlerOptions<HardeningRouter, TestUser>, 'router' | 'herald' | 'createContext'> & { tls?: TlsOptions } = {}) {
  const app = createHardeningApp();
  const { tls, ...handlerOptions } = options;
  const server = await startAttached<HardeningRouter, TestUser>(
    { router: app.router, herald: app.herald, createContext: ({ user }) => ({ user }), ...handlerOptions },
    tls,
  );
  cleanup.defer(async () => {
    await server.close();
    await app.herald.close();
  });
  return { server, app };
}

describe('attachHerald', () => {
  it("serves the app's routes, Herald's WebSocket, the HTTP fallback and health on one port", async () => {
    const { server } = await attached();
    const hello = await fetch(`${server.httpUrl}/hello`);
    expect(await hello.json()).toEqual(HELLO);
    // Anything not Herald's reaches the app, 404 included.
    const missing = await fetch(`${server.httpUrl}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'app: no such route' });

    for (const kind of CLIENT_KINDS) {
      const client = cleanup.add(makeClient<HardeningRouter>(kind, server.url));
      expect(await client.trpc.add.query({ a: 1, b: 2 })).toBe(3);
    }
    const call = await fetch(addUrl(server.httpUrl));
    expect(call.status).toBe(200);
    expect(transformer.deserialize((await call.json() as { result: { data: never } }).result.data)).toBe(5);
    expect(await (await fetch(`${server.httpUrl}/healthz`)).json()).toMatchObject({ status: 'ok', connections: 2 });
    expect((await fetch(`${server.httpUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${server.httpUrl}/metrics`)).status).toBe(200);
  });

  it('leaves /healthz and /readyz to the app with health: false', async () => {
    const { server } = await attached({ health: false });
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(404);
    expect((await fetch(`${server.httpUrl}/readyz`)).status).toBe(404);
  });

  it("answers an upgrade on another path 404 with Herald's path, unless the app listens for upgrades", async () => {
    const { server } = await attached();
    const other = server.url.replace(/\/ws$/, '/other');
    const refused = await upgrade(other);
    expect(refused.status).toBe(404);
    refused.socket.terminate();

    // The app's own WebSocket server on another path: its upgrades are the app's.
    const appSockets = new WebSocketServer({ noServer: true });
    cleanup.defer(() => new Promise<void>((resolve) => appSockets.close(() => resolve())));
    server.appServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (req.url === '/other') appSockets.handleUpgrade(req, socket, head, (ws) => ws.send('app socket'));
    });
    const socket = new WebSocket(other);
    cleanup.defer(() => socket.terminate());
    expect(await withTimeout(new Promise<string>((resolve) => socket.once('message', (data: Buffer) => resolve(data.toString()))), 5_000, 'the app socket')).toBe(
      'app socket',
    );
    expect(await upgradeStatus(server.url)).toBe(101);
  });

  it("drains and closes Herald's part while the app's server keeps serving", async () => {
    const { server } = await attached();
    const client = cleanup.add(makeClient<HardeningRouter>('stock', server.url));
    expect(await client.trpc.whoami.query()).toBeNull();
    // An event stream over the HTTP fallback: `close()` ends it, as it closes the sockets.
    const controller = new AbortController();
    cleanup.defer(() => controller.abort());
    const input = encodeURIComponent(JSON.stringify(transformer.serialize({ stream: 's' })));
    const stream = await fetch(`${server.httpUrl}/trpc/numbers?input=${input}`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    const drained = stream.body!.pipeTo(new WritableStream()).then(
      () => 'ended',
      () => 'ended',
    );
    expect(server.connectionCount).toBe(1);

    await server.handler.close();
    expect(server.connectionCount).toBe(0);
    expect(await withTimeout(drained, 5_000, 'the event stream to end')).toBe('ended');
    // Herald still answers its paths, as closing; the app is untouched.
    expect(await upgradeStatus(server.url)).toBe(503);
    expect((await fetch(addUrl(server.httpUrl))).status).toBe(503);
    expect((await fetch(`${server.httpUrl}/readyz`)).status).toBe(503);
    expect(await (await fetch(`${server.httpUrl}/hello`)).json()).toEqual(HELLO);
    // The app's server then closes as it would without Herald.
    await server.close();
  });

  it('serves wss:// and https:// on an HTTPS server', async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
      ],
    });
    const { server } = await attached({ tls: { key: pems.private, cert: pems.cert } });
    expect(server.url).toMatch(/^wss:\/\//);
    class TrustingWebSocket extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions) {
        super(address, protocols, { ...options, ca: pems.cert });
      }
    }
    const client = cleanup.add(
      createHeraldClient<HardeningRouter>({ url: server.url, WebSocket: TrustingWebSocket as unknown as typeof globalThis.WebSocket, backoff: FAST_BACKOFF }),
    );
    expect(await client.trpc.add.query({ a: 2, b: 3 })).toBe(5);
    // A subscription over wss://, from the app's channel.
    const numbers = recordChannel<{ n: number }>((handlers) => client.trpc.numbers.subscribe({ stream: 'tls' }, handlers));
    cleanup.defer(() => numbers.unsubscribe());
    await numbers.waitForLive();
    expect(server.connectionCount).toBe(1);
  });
});

describe('createHeraldHandler', () => {
  it("takes only Herald's upgrades and requests from a server that keeps its own handling", async () => {
    const app = createHardeningApp();
    cleanup.defer(() => app.herald.close());
    const herald = await createHeraldHandler({ router: app.router, herald: app.herald, createContext: () => ({ user: null }) });
    cleanup.defer(() => herald.close());
    const seen: string[] = [];
    const server = createServer((req, res) => {
      if (herald.handleRequest(req, res)) return;
      seen.push(`request ${req.url}`);
      res.writeHead(200).end('app');
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (herald.handleUpgrade(req, socket, head)) return;
      seen.push(`upgrade ${req.url}`);
      socket.end('HTTP/1.1 418 I am a teapot\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;

    const client = cleanup.add(makeClient<HardeningRouter>('herald', `ws://127.0.0.1:${port}${herald.path}`));
    expect(await client.trpc.add.query({ a: 4, b: 5 })).toBe(9);
    expect(await upgradeStatus(`ws://127.0.0.1:${port}/elsewhere`)).toBe(418);
    expect(await (await fetch(`http://127.0.0.1:${port}/page`)).text()).toBe('app');
    expect((await fetch(addUrl(`http://127.0.0.1:${port}`))).status).toBe(200);
    expect(seen).toEqual(['upgrade /elsewhere', 'request /page']);
    await client.close();
    await herald.close();
    expect(herald.connectionCount).toBe(0);
  });
});
