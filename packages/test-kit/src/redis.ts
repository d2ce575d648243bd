/**
 * The shared Redis the tests use, and keeping tests apart on it. In CI a
 * Redis that does not answer fails the run; elsewhere the Redis suites are
 * skipped with a printed reason, never silently.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { IN_CI } from './root.js';

/** `REDIS_URL`, or the local default. */
export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

let probed: Promise<boolean> | null = null;

/**
 * Whether the Redis at `REDIS_URL` answers; probed once per process, on the
 * first call (importing the kit probes nothing). A test file reads it at the
 * top: `const redisUp = await redisAvailable();`.
 */
export function redisAvailable(): Promise<boolean> {
  probed ??= answers(REDIS_URL).then((up) => {
    if (!up) {
      if (IN_CI) throw new Error(`Redis at ${REDIS_URL} does not answer; CI must not skip the Redis tests`);
      console.warn(`[tests] Redis at ${REDIS_URL} does not answer: Redis suites are SKIPPED (set REDIS_URL or start redis-server)`);
    }
    return up;
  });
  return probed;
}

/** A key prefix of its own, so concurrent test files never see each other's data. */
export function testPrefix(): string {
  return `herald-test:${randomUUID()}`;
}

/** Deletes every key under `prefix` (what a test left in a shared Redis). Bounded scan. */
export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const admin = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    let cursor = '0';
    for (let round = 0; round < 1_000; round++) {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      if (keys.length > 0) await admin.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    admin.disconnect();
  }
}
