import { describe, expect, it } from 'vitest';
import { beforeWrite, type WriteTicks } from '../../src/ws/cork.js';

/** A socket that records cork and uncork as a net.Socket counts them. */
class FakeSocket {
  writableCorked = 0;
  destroyed = false;
  readonly log: string[] = [];
  cork(): void {
    this.writableCorked++;
    this.log.push('cork');
  }
  uncork(): void {
    this.writableCorked--;
    this.log.push('uncork');
  }
}

/** Resolves after the pending `process.nextTick` callbacks (the tick's end) ran. */
const tickEnd = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('beforeWrite', () => {
  it('lets the first frame of a tick out at once and corks from the second, until the tick ends', async () => {
    const socket = new FakeSocket();
    const ticks: WriteTicks = { lastWriteTick: 0 };
    beforeWrite(socket, ticks);
    expect(socket.log).toEqual([]);
    beforeWrite(socket, ticks);
    beforeWrite(socket, ticks);
    expect(socket.log).toEqual(['cork']);
    await tickEnd();
    expect(socket.log).toEqual(['cork', 'uncork']);
    expect(socket.writableCorked).toBe(0);
  });

  it('corks from the first frame when more follow in the tick, so all of them leave in one write', async () => {
    const socket = new FakeSocket();
    const ticks: WriteTicks = { lastWriteTick: 0 };
    beforeWrite(socket, ticks, true);
    expect(socket.log).toEqual(['cork']);
    beforeWrite(socket, ticks);
    expect(socket.log).toEqual(['cork']);
    await tickEnd();
    expect(socket.log).toEqual(['cork', 'uncork']);
    // The next tick starts afresh: its first frame goes out at once.
    beforeWrite(socket, ticks);
    expect(socket.log).toEqual(['cork', 'uncork']);
    await tickEnd();
  });

  it('leaves a destroyed socket alone', async () => {
    const socket = new FakeSocket();
    socket.destroyed = true;
    beforeWrite(socket, { lastWriteTick: 0 }, true);
    expect(socket.log).toEqual([]);
    await tickEnd();
  });
});
