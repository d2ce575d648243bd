import { NATIVE_STREAM, type NativeStream } from './nativeStream.js';

/** `AsyncGenerator.prototype` (what `next`, `return` and `throw` of every async generator come from). */
const ASYNC_GENERATOR_PROTOTYPE: object = Object.getPrototypeOf(Object.getPrototypeOf((async function* () {})()) as object) as object;

/**
 * What `channel.stream()` returns: an async generator whose real generator
 * is made on first use, and that carries the stream's `NATIVE_STREAM`. A
 * connection that writes channel events straight to its socket never steps
 * the generator, so it is never made (a generator object per subscription
 * is most of what a subscribe allocates beyond its socket). Everything
 * else sees an async generator: `next`, `return` and `throw` behave as
 * they do on one (one not started yet ends at `return` or `throw` without
 * running any of its body), and the prototype is `AsyncGenerator.prototype`,
 * so `Symbol.asyncIterator` and whatever else the runtime puts there apply.
 */
export class ChannelStream<T> implements AsyncGenerator<T, void, unknown> {
  private generator: AsyncGenerator<T, void, unknown> | null = null;
  /** Ended by `return` or `throw` before it was started. */
  private endedUnstarted = false;
  readonly [NATIVE_STREAM]: NativeStream;

  constructor(
    private readonly start: () => AsyncGenerator<T, void, unknown>,
    native: NativeStream,
  ) {
    this[NATIVE_STREAM] = native;
  }

  next(...args: [] | [unknown]): Promise<IteratorResult<T, void>> {
    if (this.endedUnstarted) return Promise.resolve({ done: true, value: undefined });
    return (this.generator ??= this.start()).next(...args);
  }

  return(value: void | PromiseLike<void>): Promise<IteratorResult<T, void>> {
    if (this.generator) return this.generator.return(value);
    this.endedUnstarted = true;
    // An async generator awaits what it returns.
    if (value === undefined) return Promise.resolve({ done: true, value: undefined });
    return Promise.resolve(value).then((done) => ({ done: true, value: done }));
  }

  throw(error: unknown): Promise<IteratorResult<T, void>> {
    if (this.generator) return this.generator.throw(error);
    this.endedUnstarted = true;
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

Object.setPrototypeOf(ChannelStream.prototype, ASYNC_GENERATOR_PROTOTYPE);
