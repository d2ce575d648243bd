import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';

/**
 * Makes a publish happen at most once (`Broker.publish`'s `once`): a second
 * publish with the same tag to the same topic stores and delivers nothing
 * and resolves with the first one's id. The broker records the tag
 * atomically with the append, so a publish whose answer was lost (a
 * timeout) is known to have happened, or known not to, by the next one.
 */
export interface PublishOnce {
  /** Names the publish: the n-th publish of one keyed mutation's runs. */
  readonly tag: string;
  /** How long the broker remembers the tag: the idempotency key's lifetime. */
  readonly ttlMs: number;
}

/** A keyed mutation's run, as its publishes see it. */
class KeyedRun {
  /** Publishes made so far in this run. */
  published = 0;

  constructor(
    readonly storeKey: string,
    readonly ttlMs: number,
  ) {}
}

const keyedRuns = new AsyncLocalStorage<KeyedRun>();

/**
 * Runs a keyed mutation's procedure so that its publishes carry tags
 * derived from the key (`nextPublishOnce`): a run repeated under the same
 * key (after an attempt whose outcome was not known) repeats them without
 * storing anything twice. Async context rather than a parameter: the
 * procedure calls `channel.publish` with no idea it runs under a key.
 */
export function runKeyed<T>(storeKey: string, ttlMs: number, run: () => Promise<T>): Promise<T> {
  return keyedRuns.run(new KeyedRun(storeKey, ttlMs), run);
}

/**
 * The tag of the next publish of the keyed run this code belongs to (its
 * n-th publish, counted in the order they are called), or undefined
 * outside keyed runs.
 */
export function nextPublishOnce(): PublishOnce | undefined {
  const run = keyedRuns.getStore();
  if (!run) return undefined;
  const n = ++run.published;
  return { tag: createHash('sha256').update(run.storeKey).update('\n').update(String(n)).digest('base64url'), ttlMs: run.ttlMs };
}
