import { BrokerUnavailableError } from '../brokers/errors.js';

/** Longest wait between attempts while a subscription waits out a broker outage (the cap of its backoff). */
export const RETRY_MAX_MS = 2_000;
/** The first retry waits up to this long; each later one up to twice as long, up to `RETRY_MAX_MS`. */
export const RETRY_BASE_MS = 100;
/**
 * How long a subscription that is opening (or resuming) waits for a broker
 * that is away or failing over, at each step (attach and history, presence),
 * before it fails with BROKER_UNAVAILABLE. An open one that loses the
 * broker waits as long as it takes.
 */
export const START_WAIT_MS = 30_000;

/** Full jitter: a random wait up to the capped exponential bound, so subscribers that failed together do not retry together. */
export function retryDelayMs(attempt: number): number {
  return Math.random() * Math.min(RETRY_BASE_MS * 2 ** attempt, RETRY_MAX_MS);
}

/** Whether a failure is final: the broker was closed, so nothing waits for it. */
export function isFinal(error: unknown): boolean {
  return error instanceof BrokerUnavailableError && error.closed;
}

/**
 * Runs `run` until it succeeds, waiting out a broker that is away: after a
 * failure it waits `retryDelayMs` and tries again, reporting the first
 * failure through `onError`. Rejects with the last failure once
 * `START_WAIT_MS` has passed, `signal` aborted, or the broker was closed.
 */
export async function retryThroughOutage<T>(run: () => Promise<T>, onError: (error: unknown) => void, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + START_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (isFinal(error) || signal?.aborted || Date.now() >= deadline) throw error;
      if (attempt === 0) onError(error);
      await delay(retryDelayMs(attempt), signal);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
