import type { Cluster, Redis } from 'ioredis';
import type { IdempotencyStore } from '../idempotency.js';

/** What a claimed-but-unfinished key holds; real outcomes are JSON and never equal it. */
const PENDING = '\u0000pending';
/** Poll interval while another node runs the mutation (it may be anywhere, so no local wake-up). */
const WAIT_POLL_MS = 25;

export function redisIdempotencyStore(redis: Redis | Cluster, keyOf: (key: string) => string, call: <T>(what: string, run: () => Promise<T>) => Promise<T>): IdempotencyStore {
  return {
    async claim(key, ttlMs) {
      const claimed = await call('idempotency claim', () => redis.set(keyOf(key), PENDING, 'PX', ttlMs, 'NX'));
      if (claimed === 'OK') return { state: 'claimed' };
      const value = await call('idempotency read', () => redis.get(keyOf(key)));
      if (value === null) return this.claim(key, ttlMs); // it lapsed between the two commands
      return value === PENDING ? { state: 'pending' } : { state: 'done', outcome: value };
    },
    async complete(key, outcome, ttlMs) {
      await call('idempotency record', () => redis.set(keyOf(key), outcome, 'PX', ttlMs));
    },
    async wait(key, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const value = await call('idempotency read', () => redis.get(keyOf(key)));
        if (value === null) return null;
        if (value !== PENDING) return value;
        await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      }
      return null;
    },
  };
}
