import type { IdempotencyStore } from '../idempotency.js';
import type { RedisConnections } from './connections.js';

/**
 * What a claimed-but-unfinished key holds: this prefix and its owner's token.
 * Real outcomes start with a hex fingerprint (or are JSON) and never with it.
 */
const PENDING = '\u0000pending:';
/** What a released key holds: claimed, no outcome, free for the next claim. */
const RELEASED = '\u0000released';
/** Poll interval while another node runs the mutation (it may be anywhere, so no local wake-up). */
const WAIT_POLL_MS = 25;

/**
 * Takes a free or released key for an owner, or says why not, in one step.
 * KEYS: the key. ARGV: ttlMs, the pending value (PENDING + owner), RELEASED, PENDING.
 * Returns {1} claimed, {2} pending, {3, outcome} done.
 */
const CLAIM_SCRIPT = `local value = redis.call('GET', KEYS[1])
if (not value) or value == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
  return {1}
end
if string.sub(value, 1, #ARGV[4]) == ARGV[4] then return {2} end
return {3, value}`;

/**
 * Releases a claim only while its owner still holds it (a late release never
 * undoes a completion or another owner's claim). A Redis out of memory
 * refuses the SET (often the very failure being released) but not a DEL,
 * which frees the key instead: free and released are claimed alike, and
 * the run's publish records, in keys of their own, stay.
 * KEYS: the key. ARGV: the pending value (PENDING + owner), RELEASED, ttlMs.
 */
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  local set = redis.pcall('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  if type(set) == 'table' and set.err then redis.call('DEL', KEYS[1]) end
  return 1
end
return 0`;

type ClaimReply = [1] | [2] | [3, string];

export function redisIdempotencyStore(connections: Pick<RedisConnections, 'redis' | 'call' | 'runScript'>, keyOf: (key: string) => string): IdempotencyStore {
  const { redis, call, runScript } = connections;
  return {
    async claim(key, ttlMs, owner = '') {
      const reply = await call('idempotency claim', () => runScript<ClaimReply>(CLAIM_SCRIPT, [keyOf(key)], [ttlMs, PENDING + owner, RELEASED, PENDING]));
      if (reply[0] === 1) return { state: 'claimed' };
      if (reply[0] === 2) return { state: 'pending' };
      return { state: 'done', outcome: reply[1] };
    },
    async complete(key, outcome, ttlMs) {
      await call('idempotency record', () => redis.set(keyOf(key), outcome, 'PX', ttlMs));
    },
    async release(key, owner, ttlMs) {
      // EVAL, not EVALSHA: a release is rare, and often sent into a stalled
      // Redis right behind the command that timed out; a NOSCRIPT answer
      // would come after its own timeout, too late for the EVAL that follows.
      await call('idempotency release', () => redis.eval(RELEASE_SCRIPT, 1, keyOf(key), PENDING + owner, RELEASED, ttlMs));
    },
    async wait(key, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const value = await call('idempotency read', () => redis.get(keyOf(key)));
        if (value === null || value === RELEASED) return null;
        if (!value.startsWith(PENDING)) return value;
        await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      }
      return null;
    },
  };
}
