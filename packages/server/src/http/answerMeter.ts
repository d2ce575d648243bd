import { AsyncLocalStorage } from 'node:async_hooks';
import type { Refusal, RequestGate } from '../transport/gate.js';

/**
 * What an HTTP answer costs the server while it is built and until its
 * client takes it. tRPC's adapter builds a non-streamed answer whole (every
 * call's result serialized, then one `JSON.stringify` of the batch, then its
 * bytes) and holds those bytes in the response until the client reads them;
 * a client that asks for a large batch and never reads makes the server
 * hold several copies of it. The meter measures each call's serialized
 * result as the router's serializer makes it, before the whole text exists,
 * and asks the gate whether the answer may grow (`maxHttpAnswerBytes`) and
 * whether its address may hold more (`maxHttpAnswerBytesPerIp`); a refusal
 * is thrown from the serializer, so tRPC answers the request with it (one
 * error for the whole batch, in tRPC's shape) instead of building the rest.
 *
 * tRPC runs every call of a batch before it serializes any, so the meter
 * also paces the calls (`pace`, through the router view's procedures): at
 * most `CALLS_AT_ONCE` of a request run at a time, the results of those
 * that ended are counted as they end, and once they are past
 * `maxHttpAnswerBytes` the calls not yet started are refused without
 * running, and so is the batch. A batch that asks for far more than one
 * answer may carry costs the server that answer's worth of work (and the
 * calls running when it was reached), not the whole batch's.
 */

/** Calls of one metered request that run at once; the others wait for one of them to end. */
export const CALLS_AT_ONCE = 16;

/** The gate's part in metering (see `RequestGate`). */
export type AnswerGate = Pick<RequestGate, 'checkHttpAnswer' | 'holdHttpAnswer' | 'releaseHttpAnswer'>;

/** The meter of the request being served, where the router's serializer runs (inside `AnswerMeter.around`). */
const current = new AsyncLocalStorage<AnswerMeter>();

/** The errors meters threw: held weakly, as a meter is (see `AnswerMeter`). */
const thrown = new WeakSet<object>();

/** Whether `error` is a refusal a meter threw (counted and logged by the gate already). */
export function isAnswerRefusal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && thrown.has(error);
}

/**
 * One request's answer: the bytes it has grown to, held against its
 * address until `release` (when the response is sent in full or its
 * connection ends).
 *
 * Once its request is answered, a meter holds numbers and flags only:
 * async resources made while its request is served (a keep-alive timer, a
 * socket) keep it as their context for as long as they live, so anything
 * it held (the refusal it threw, whose stack reaches the answer being
 * built) would be held as long. While the calls run it also holds the
 * calls waiting to start, and a refusal of its calls' results until the
 * serializer throws it (its stack made at once, see `refusedWith`).
 */
export class AnswerMeter {
  private bytes = 0;
  private refused = false;
  private released = false;
  /** Calls running now (`pace`), and the ends of those waiting for one of them to end. */
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  /** What the results of the calls that ended come to (`jsonLength`). */
  private results = 0;
  /** The refusal of a batch whose calls' results went past `maxBytes`: thrown by the calls not yet started, then by the serializer. */
  private overflow: Refusal['error'] | null = null;

  constructor(
    private readonly gate: AnswerGate,
    private readonly address: string,
    private readonly maxBytes: number,
  ) {}

  /** Runs `serve` (tRPC's adapter for this request) with this meter counting what the router serializes. */
  around<T>(serve: () => T): T {
    return current.run(this, serve);
  }

  /**
   * Runs one call of the request once fewer than `CALLS_AT_ONCE` of its
   * calls are running, and counts its result when it ends; refuses it
   * without running it once the results of the calls that ended are past
   * `maxBytes` (the batch is refused then, see `charge`).
   */
  async pace<T>(call: () => Promise<T>): Promise<T> {
    if (this.running >= CALLS_AT_ONCE) await new Promise<void>((resolve) => this.waiting.push(resolve));
    if (this.overflow) {
      // Refused without running: the next waiting call is told in turn.
      this.waiting.shift()?.();
      throw this.overflow;
    }
    this.running++;
    try {
      const result = await call();
      this.results += jsonLength(result, this.maxBytes - this.results);
      if (this.results > this.maxBytes && !this.overflow && !this.refused) {
        const refusal = this.gate.checkHttpAnswer(this.results);
        if (refusal) this.overflow = this.refusedWith(refusal);
      }
      return result;
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** Counts `serialized` (one call's result, or an error) into the answer; throws the gate's refusal when it may not grow. */
  charge(serialized: unknown): void {
    const overflow = this.overflow;
    if (overflow) {
      // The calls' results were past the limit: the batch is refused whatever its serialized part comes to. Held no longer than this.
      this.overflow = null;
      throw overflow;
    }
    // Once refused, the error answer tRPC makes of the refusal is small, and let through; once released, the request is over.
    if (this.refused || this.released) return;
    const bytes = jsonLength(serialized, this.maxBytes - this.bytes);
    const refusal = this.gate.checkHttpAnswer(this.bytes + bytes) ?? this.gate.holdHttpAnswer(this.address, bytes);
    if (refusal) throw this.refusedWith(refusal);
    this.bytes += bytes;
  }

  /** Gives the answer's bytes back to its address. */
  release(): void {
    this.gate.releaseHttpAnswer(this.address, this.bytes);
    this.bytes = 0;
    this.released = true;
  }

  private refusedWith(refusal: Refusal): Refusal['error'] {
    this.refused = true;
    const { error } = refusal;
    thrown.add(error);
    // Its stack, made now: until it is, V8 keeps the frames' receivers (the answer's arrays) with the error.
    void error.stack;
    return error;
  }
}

/** `procedure` (a tRPC procedure), with its calls paced by the meter of the request they run for (none outside a metered request). */
export function paced<TProcedure extends (opts: never) => Promise<unknown>>(procedure: TProcedure): TProcedure {
  const view = (opts: Parameters<TProcedure>[0]) => {
    const meter = current.getStore();
    return meter ? meter.pace(() => procedure(opts)) : procedure(opts);
  };
  // Its `_def` and flags, read by tRPC's adapter as the procedure's.
  return Object.assign(view, procedure) as unknown as TProcedure;
}

/** `serialize`, with what it makes counted by the meter of the request it runs for (none outside a metered request). */
export function metered(serialize: (value: unknown) => unknown): (value: unknown) => unknown {
  return (value) => {
    const serialized = serialize(value);
    current.getStore()?.charge(serialized);
    return serialized;
  };
}

/**
 * The length of `value`'s JSON text, counted without making it (a
 * character counts one, escapes are not counted), and no further than just
 * past `limit`: a walk over its values whose cost grows with their number,
 * not with the length of its strings. Values JSON leaves out count nothing
 * (in an array, where JSON writes them as `null`, too).
 */
export function jsonLength(value: unknown, limit: number): number {
  let length = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0 && length <= limit) {
    const next = pending.pop();
    switch (typeof next) {
      case 'string':
        length += next.length + 2;
        break;
      case 'number':
      case 'boolean':
      case 'bigint':
        length += String(next).length;
        break;
      case 'object':
        if (next === null) length += 4;
        else if (Array.isArray(next)) {
          // Brackets and commas; its items are counted one by one, unless that alone is past the limit.
          length += 1 + Math.max(next.length, 1);
          if (length <= limit) for (const item of next) pending.push(item);
        } else if (typeof (next as { toJSON?: unknown }).toJSON === 'function') {
          pending.push((next as { toJSON: () => unknown }).toJSON());
        } else {
          let entries = 0;
          for (const key in next) {
            if (!Object.hasOwn(next, key)) continue;
            const item = (next as Record<string, unknown>)[key];
            if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
            length += key.length + 3;
            entries++;
            pending.push(item);
          }
          length += 1 + Math.max(entries, 1);
        }
        break;
      default:
        break;
    }
  }
  return length;
}
