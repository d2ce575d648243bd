/**
 * The checks both framework examples (examples/express-app,
 * examples/fastify-app) pass: the app's own route and the demo's chat
 * router, over WebSocket and the HTTP fallback, on the app's one port.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { transformer } from '@herald/shared';
import type { AppRouter, Message } from '@herald/example-chat-server';
import { Cleanup, FAST_BACKOFF, heraldClient, stockClient } from '@herald/test-kit';
import { launchChromium, missingChromium, skipBrowserTests } from '@herald/test-kit/browser';
import { loginToken, subscribeRoom } from './chat.js';

/** A running example: where it listens, and how it stops. */
export interface OnePortApp {
  /** Herald's WebSocket, `ws://host:port/ws`. */
  readonly url: string;
  /** `http://host:port`. */
  readonly httpUrl: string;
  close(): Promise<void>;
}

const BROWSER_TIMEOUT_MS = 20_000;

export function describeChatOnOnePort(name: string, start: () => Promise<OnePortApp>): void {
  if (skipBrowserTests) console.warn(`[${name} example] the Chromium check is skipped: ${missingChromium}`);
  describe(`${name}: its own route and the chat on one port`, () => {
    const cleanup = new Cleanup();
    let app: OnePortApp;
    beforeEach(async () => {
      app = cleanup.add(await start());
    });
    afterEach(() => cleanup.run());

    it('answers GET /hello itself, and health from Herald', async () => {
      const hello = await fetch(`${app.httpUrl}/hello`);
      expect(hello.status).toBe(200);
      expect(await hello.json()).toEqual({ hello: 'world' });
      expect(await (await fetch(`${app.httpUrl}/healthz`)).json()).toMatchObject({ status: 'ok' });
      // A route neither has is the framework's 404.
      expect((await fetch(`${app.httpUrl}/nowhere`)).status).toBe(404);
    });

    it("serves the chat over WebSocket to tRPC's stock client (wsLink) and Herald's client", async () => {
      const { token } = await loginToken(app.url, 'stock-user');
      const stock = cleanup.add(stockClient<AppRouter>(app.url, { token }));
      const room = subscribeRoom(stock.trpc, 'lobby');
      cleanup.defer(() => room.unsubscribe());
      await room.waitForLive();

      const { token: heraldToken } = await loginToken(app.url, 'herald-user');
      const herald = cleanup.add(heraldClient<AppRouter>(app.url, { token: heraldToken }));
      const sent = await herald.trpc.chat.send.mutate({ room: 'lobby', text: 'hi from Herald' });
      expect(sent.author.name).toBe('herald-user');
      const [received] = await room.waitForMessages(1);
      expect(received).toMatchObject({ id: sent.id, text: 'hi from Herald' });
      expect(received?.sentAt).toBeInstanceOf(Date);
      expect(await stock.trpc.chat.history.query({ room: 'lobby' })).toHaveLength(1);
    });

    it('serves the chat over the HTTP fallback', async () => {
      const { token } = await loginToken(app.url, 'watcher');
      const watcher = cleanup.add(heraldClient<AppRouter>(app.url, { token }));
      const room = subscribeRoom(watcher.trpc, 'http');
      cleanup.defer(() => room.unsubscribe());
      await room.waitForLive();

      // Herald's client on HTTP only: calls to /trpc, subscriptions as event streams.
      const overHttp = cleanup.add(createHeraldClient<AppRouter>({ url: app.url, transport: 'http', http: httpTransport, backoff: FAST_BACKOFF }));
      const { token: httpToken } = await overHttp.trpc.auth.login.mutate({ name: 'over-http' });
      const httpRoom = subscribeRoom(overHttp.trpc, 'http');
      cleanup.defer(() => httpRoom.unsubscribe());
      await httpRoom.waitForLive();
      await watcher.trpc.chat.send.mutate({ room: 'http', text: 'to both doors' });
      expect((await httpRoom.waitForMessages(1))[0]).toMatchObject({ text: 'to both doors' });

      // And by hand: tRPC's HTTP protocol with the token as a bearer credential.
      const body = JSON.stringify(transformer.serialize({ room: 'http', text: 'by hand' }));
      const response = await fetch(`${app.httpUrl}/trpc/chat.send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${httpToken}` },
        body,
      });
      expect(response.status).toBe(200);
      const messages = await room.waitForMessages(2);
      expect(messages.map((message: Message) => message.text)).toEqual(['to both doors', 'by hand']);
      expect(messages[1]?.author.name).toBe('over-http');
    });

    it.skipIf(skipBrowserTests)('serves a page of its own origin in Chromium, over WebSocket and HTTP', async () => {
      const browser = await launchChromium(BROWSER_TIMEOUT_MS);
      cleanup.defer(() => browser.close());
      const page = await browser.newPage();
      await page.goto(`${app.httpUrl}/hello`);
      // The browser's own WebSocket, from a page of the app's origin: tRPC's wire protocol by hand.
      const frame = JSON.stringify({ id: 1, method: 'query', params: { path: 'system.health', input: transformer.serialize(undefined) } });
      const overWebSocket = await page.evaluate(
        ({ url, frame }) =>
          new Promise<string>((resolve, reject) => {
            const socket = new WebSocket(url);
            socket.onopen = () => socket.send(frame);
            socket.onmessage = (event) => {
              socket.close();
              resolve(String(event.data));
            };
            socket.onerror = () => reject(new Error('the WebSocket failed'));
          }),
        { url: app.url, frame },
      );
      expect(JSON.parse(overWebSocket)).toMatchObject({ id: 1, result: { type: 'data', data: { json: { nodeId: expect.any(String) } } } });
      const overHttp = await page.evaluate(async () => (await fetch('/trpc/system.health')).json());
      expect(overHttp).toMatchObject({ result: { data: { json: { nodeId: expect.any(String) } } } });
    });
  });
}
