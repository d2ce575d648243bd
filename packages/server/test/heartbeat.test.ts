/**
 * The server's heartbeat over real sockets: a quiet socket gets WebSocket
 * ping control frames, which a client's WebSocket answers by itself (no
 * text frame reaches the app); a socket that does not answer is terminated
 * within the bounds; a client's own text PING is still answered PONG.
 */
import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
import { WebSocket } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { transformer } from '@herald/server';
import { Cleanup, rawSocket, recordChannel, startNumbersServer, type NumbersRouter } from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const heartbeat = { pingIntervalMs: 100, pongTimeoutMs: 100 };

async function serve() {
  const server = await startNumbersServer({ heartbeat });
  cleanup.add(server);
  return server;
}

/** Resolves after `count` pings reached `socket`. */
function pings(socket: WebSocket, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onPing = () => {
      if (++seen < count) return;
      socket.off('ping', onPing);
      resolve();
    };
    socket.on('ping', onPing);
  });
}

describe('heartbeats', () => {
  it('pings a quiet socket with control frames that its WebSocket answers, and keeps it', async () => {
    const server = await serve();
    const raw = rawSocket(server.server.url);
    cleanup.defer(() => raw.socket.terminate());
    await raw.opened;
    // Each ping is answered by ws itself (autoPong); the socket never sends a frame of its own.
    await pings(raw.socket, 5);
    expect(raw.socket.readyState).toBe(WebSocket.OPEN);
    expect(server.server.connectionCount).toBe(1);
    // No text PING reached the app.
    expect(raw.frames).toEqual([]);
  });

  it('terminates a socket that does not answer its ping, within the interval, the timeout and a sweep each', async () => {
    const server = await serve();
    const raw = rawSocket(server.server.url, { autoPong: false });
    await raw.opened;
    const openedAt = Date.now();
    const { code } = await raw.closed;
    // Terminated without a close frame: the client sees 1006.
    expect(code).toBe(1006);
    expect(Date.now() - openedAt).toBeLessThan(heartbeat.pingIntervalMs + heartbeat.pongTimeoutMs + 2 * 100 + 500);
    await expect.poll(() => server.server.connectionCount).toBe(0);
  });

  it('answers a client’s own text PING with PONG, which counts as life', async () => {
    const server = await serve();
    const raw = rawSocket(server.server.url, { autoPong: false });
    cleanup.defer(() => raw.socket.terminate());
    await raw.opened;
    // Pinging on its own more often than the interval, the socket is never pinged and never dropped.
    let pinged = false;
    raw.socket.on('ping', () => (pinged = true));
    for (let i = 0; i < 6; i++) {
      raw.socket.send('PING');
      await raw.frame((frame) => frame === 'PONG' && raw.frames.filter((f) => f === 'PONG').length > i);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(pinged).toBe(false);
    expect(raw.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('keeps an idle stock tRPC client connected across many pings, its subscription live', async () => {
    const server = await serve();
    const ws = createWSClient({ url: server.server.url, WebSocket: WebSocket as never });
    cleanup.defer(() => ws.close());
    const trpc = createTRPCClient<NumbersRouter>({ links: [wsLink({ client: ws, transformer })] });
    const recorded = recordChannel<{ n: number }>((handlers) => trpc.numbers.subscribe({ stream: 'idle' }, handlers));
    cleanup.defer(() => recorded.unsubscribe());
    await recorded.waitForLive();
    // Ten ping intervals with nothing sent either way but pings and pongs.
    await new Promise((resolve) => setTimeout(resolve, 10 * heartbeat.pingIntervalMs));
    expect(server.server.connectionCount).toBe(1);
    await server.app.numbers.publish('idle', { n: 1 });
    await recorded.waitForMessages(1);
    // A reconnect would have resubscribed: a second live marker.
    expect(recorded.events.filter(({ event }) => event.type === 'live')).toHaveLength(1);
    expect(recorded.errors).toEqual([]);
  });
});
