import { describe, expect, it } from 'vitest';
import { ChannelStream } from '../../src/channels/channelStream.js';
import { NATIVE_STREAM, nativeStreamOf, type NativeStream } from '../../src/channels/nativeStream.js';

const native: NativeStream = {
  open: () => Promise.reject(new Error('not opened in these tests')),
};

/** A real async generator yielding 1, 2, 3 and counting how often its body started and its `finally` ran. */
function counted() {
  const counts = { started: 0, finalized: 0 };
  async function* body(): AsyncGenerator<number, void, unknown> {
    counts.started++;
    try {
      yield 1;
      yield 2;
      yield 3;
    } finally {
      counts.finalized++;
    }
  }
  return { counts, body };
}

/** The same calls on a plain generator and on a ChannelStream over another one, with what each returned or threw. */
async function both(steps: (generator: AsyncGenerator<number, void, unknown>) => Promise<unknown[]>) {
  const plain = counted();
  const lazy = counted();
  const settle = (run: () => Promise<unknown[]>): Promise<{ values?: unknown[]; error?: unknown }> =>
    run().then((values) => ({ values }), (error: unknown) => ({ error }));
  return {
    plain: { ...(await settle(() => steps(plain.body()))), counts: plain.counts },
    lazy: { ...(await settle(() => steps(new ChannelStream(lazy.body, native)))), counts: lazy.counts },
  };
}

describe('ChannelStream', () => {
  it('carries its native stream and starts no generator for it', () => {
    const { counts, body } = counted();
    const stream = new ChannelStream(body, native);
    expect(nativeStreamOf(stream)).toBe(native);
    expect(stream[NATIVE_STREAM]).toBe(native);
    expect(counts.started).toBe(0);
    expect(Object.prototype.toString.call(stream)).toBe('[object AsyncGenerator]');
    expect(stream[Symbol.asyncIterator]()).toBe(stream);
  });

  it('iterates as the generator does', async () => {
    const { plain, lazy } = await both(async (generator) => {
      const values: unknown[] = [];
      for await (const value of generator) values.push(value);
      return values;
    });
    expect(lazy).toEqual(plain);
    expect(lazy.values).toEqual([1, 2, 3]);
  });

  it('returned before it started: done, and done for good, without running its body', async () => {
    const { plain, lazy } = await both(async (generator) => [await generator.return(undefined), await generator.next(), await generator.next()]);
    expect(lazy).toEqual(plain);
    expect(lazy.counts).toEqual({ started: 0, finalized: 0 });
  });

  it('thrown into before it started: rejects with the error, then done', async () => {
    const { plain, lazy } = await both(async (generator) => {
      const thrown = await generator.throw(new Error('stop')).catch((error: unknown) => (error as Error).message);
      return [thrown, await generator.next()];
    });
    expect(lazy).toEqual(plain);
    expect(lazy.values?.[0]).toBe('stop');
  });

  it('returned or thrown into once started: its finally runs, as the generator', async () => {
    const returned = await both(async (generator) => [await generator.next(), await generator.return(undefined), await generator.next()]);
    expect(returned.lazy).toEqual(returned.plain);
    expect(returned.lazy.counts).toEqual({ started: 1, finalized: 1 });
    const thrown = await both(async (generator) => [await generator.next(), await generator.throw(new Error('stop'))]);
    expect(thrown.lazy).toEqual(thrown.plain);
    expect(thrown.lazy.counts).toEqual({ started: 1, finalized: 1 });
  });
});
