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
 */

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
 * A meter holds numbers and flags only: async resources made while its
 * request is served (a keep-alive timer, a socket) keep it as their
 * context for as long as they live, so anything it held (the refusal it
 * threw, whose stack reaches the answer being built) would be held as long.
 */
export class AnswerMeter {
  private bytes = 0;
  private refused = false;
  private released = false;

  constructor(
    private readonly gate: AnswerGate,
    private readonly address: string,
    private readonly maxBytes: number,
  ) {}

  /** Runs `serve` (tRPC's adapter for this request) with this meter counting what the router serializes. */
  around<T>(serve: () => T): T {
    return current.run(this, serve);
  }

  /** Counts `serialized` (one call's result, or an error) into the answer; throws the gate's refusal when it may not grow. */
  charge(serialized: unknown): void {
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
