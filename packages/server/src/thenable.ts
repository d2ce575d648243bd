/**
 * Whether `await value` would wait: a value with a `then` method, as the
 * language defines it (tRPC's `isPromise` also asks for `catch`, which
 * `await` does not). Lets a hot path take a synchronous result (a zod
 * parse, a resolver, `createContext`) without an await, and await the rest.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
