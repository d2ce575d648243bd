/**
 * A broadcast to a large room is handed out in slices (channels/fanout.ts),
 * yielding to the event loop between them. Over real sockets, with a slice
 * far smaller than the room so every message spans many slices: each
 * subscriber gets every message once and in order, including those that
 * join or leave while a sliced delivery is under way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChannelEvent } from '@herald/shared';
import { createHeraldServer } from '@herald/server';
import { Cleanup, createNumbersApp, rawSocket, request, resultOf, served, type RawSocket } from '@herald/test-kit';
import { setFanoutSliceSize } from '../src/channels/fanout.js';

const SLICE = 7;
const SUBSCRIBERS = 300;

type Tracked = { id: string; data: ChannelEvent<{ n: number }> };

function isTrackedFrame(frame: unknown): boolean {
  return typeof frame === 'object' && frame !== null && (frame as { result?: { type?: string } }).result?.type === 'data';
}

function trackedOf(socket: RawSocket): Tracked[] {
  return socket.frames.filter(isTrackedFrame).map((frame) => resultOf<Tracked>(frame));
}

function eventsOf(socket: RawSocket): ChannelEvent<{ n: number }>[] {
  return trackedOf(socket).map((tracked) => tracked.data);
}

/** Orders stream ids (`<ms>-<seq>`). */
function after(id: string, than: string): boolean {
  const [ms, seq] = id.split('-').map(Number) as [number, number];
  const [thanMs, thanSeq] = than.split('-').map(Number) as [number, number];
  return ms > thanMs || (ms === thanMs && seq > thanSeq);
}

/** Resolves once `socket` has received message `n`. */
function received(socket: RawSocket, n: number): Promise<unknown> {
  return socket.frame((frame) => isTrackedFrame(frame) && messagesOf(socket).includes(n), 20_000, `message ${n}`);
}

function messagesOf(socket: RawSocket): number[] {
  return eventsOf(socket).flatMap((event) => (event.type === 'message' ? [event.message.n] : []));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('sliced fan-out over real sockets', () => {
  let previousSlice: number;
  beforeAll(() => {
    previousSlice = setFanoutSliceSize(SLICE);
  });
  afterAll(() => {
    setFanoutSliceSize(previousSlice);
  });

  /** The numbers app, allowing a room of raw sockets from one address. */
  async function start() {
    const app = createNumbersApp({ historySize: 1_000 });
    const server = await createHeraldServer({
      router: app.router,
      herald: app.herald,
      port: 0,
      host: '127.0.0.1',
      limits: { maxConnectionsPerIp: 2 * SUBSCRIBERS, rate: { perSecond: 10_000, burst: 10_000 } },
      createContext: () => ({ name: null }),
    });
    return served(app, server);
  }

  /** Opens a raw socket subscribed to `stream` and waits for its live marker. */
  async function subscriber(cleanup: Cleanup, url: string, stream: string): Promise<RawSocket> {
    const socket = rawSocket(url);
    cleanup.defer(() => socket.close());
    await socket.opened;
    socket.send(request(1, 'subscription', 'numbers', { stream }));
    await socket.frame((frame) => isTrackedFrame(frame) && resultOf<Tracked>(frame).data.type === 'live', 10_000, 'the live marker');
    return socket;
  }

  it('delivers rapid messages to a room many slices wide: every subscriber gets each once, in order', async () => {
    await using cleanup = new Cleanup();
    const { app, server } = cleanup.add(await start());
    const sockets: RawSocket[] = [];
    for (let i = 0; i < SUBSCRIBERS; i += 50) sockets.push(...(await Promise.all(range(1, 50).map(() => subscriber(cleanup, server.url, 'wide')))));

    const count = 25;
    // Published back to back: messages queue behind the one being handed out.
    await Promise.all(range(1, count).map((n) => app.numbers.publish('wide', { n })));
    await Promise.all(sockets.map((socket) => received(socket, count)));
    for (const socket of sockets) expect(messagesOf(socket)).toEqual(range(1, count));
  });

  it('subscribers that join or leave while sliced deliveries run get no duplicate and lose nothing', async () => {
    await using cleanup = new Cleanup();
    const { app, server } = cleanup.add(await start());
    const stayers: RawSocket[] = [];
    const leavers: RawSocket[] = [];
    for (let i = 0; i < SUBSCRIBERS; i += 50) {
      const opened = await Promise.all(range(1, 50).map(() => subscriber(cleanup, server.url, 'churn')));
      opened.forEach((socket, j) => ((i + j) % 3 === 0 ? leavers : stayers).push(socket));
    }

    const departed = [...leavers];
    const count = 40;
    const joiners: Promise<RawSocket>[] = [];
    const publishes: Promise<unknown>[] = [];
    for (let n = 1; n <= count; n++) {
      publishes.push(app.numbers.publish('churn', { n }));
      // Between publishes the earlier ones are still being handed out, a slice per turn of the loop.
      if (n % 4 === 0) joiners.push(subscriber(cleanup, server.url, 'churn'));
      if (n % 5 === 0) for (const leaver of leavers.splice(0, 15)) leaver.close();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await Promise.all(publishes);
    const joined = await Promise.all(joiners);
    await Promise.all(stayers.map((socket) => received(socket, count)));
    for (const socket of stayers) expect(messagesOf(socket)).toEqual(range(1, count));
    // A joiner (no lastEventId) goes live at the head of history: it gets every message after that position, once, in order.
    const published = trackedOf(stayers[0]!);
    for (const socket of joined) {
      const live = trackedOf(socket).filter((event) => event.data.type === 'live');
      expect(live).toHaveLength(1);
      const expected = published.filter((event) => after(event.id, live[0]!.id)).map((event) => event.data);
      await socket.frame(() => messagesOf(socket).length >= expected.length, 20_000, `${expected.length} messages after the live marker`);
      const tracked = trackedOf(socket);
      expect(tracked.filter((event) => event.data.type === 'message').map((event) => event.data)).toEqual(expected);
      expect(eventsOf(socket).some((event) => event.type === 'gap')).toBe(false);
    }
    // Every leaver left before the last message, and got a prefix of the messages, in order, each once.
    expect(leavers).toEqual([]);
    for (const socket of departed) {
      const got = messagesOf(socket);
      expect(got).toEqual(range(1, got.length));
      expect(got.length).toBeLessThan(count);
    }
  });
});
