import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/**
 * The Redis the tests use: `REDIS_URL`, or the local default. In CI a Redis
 * that does not answer fails the run; elsewhere the Redis suites are skipped
 * with a printed reason, never silently.
 */
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

export const redisAvailable = await answers(REDIS_URL);
if (!redisAvailable) {
  if (process.env['CI']) throw new Error(`Redis at ${REDIS_URL} does not answer; CI must not skip the Redis tests`);
  console.warn(`[tests] Redis at ${REDIS_URL} does not answer: Redis suites are SKIPPED (set REDIS_URL or start redis-server)`);
}

/** A key prefix of its own, so concurrent test files never see each other's data. */
export function testPrefix(): string {
  return `herald-test:${randomUUID()}`;
}
