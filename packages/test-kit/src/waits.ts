/**
 * Bounded waits. Prefer the event-driven ones: `nextState` for a connection
 * status, `nextEvent` or a recording's `until` for subscription events,
 * `withTimeout` around any promise. `pollUntil` is for facts nothing
 * announces (a server's connection count, a metric, a process's output);
 * `holdsUntil` checks that a fact stays true for a while.
 */
import type { ConnectionStatus } from '@herald/client';
import type { RecordedEvent, RecordedSubscription } from './recording.js';
import { statusSourceOf, type StatusTarget } from './statuses.js';

const DEFAULT_TIMEOUT_MS = 5_000;

/** `promise`, or a rejection after `timeoutMs`. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, label = 'promise'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${label} did not settle within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves on the next change of `target`'s connection to `status` (not on
 * the status it has now): call it before the action that causes the change.
 */
export function nextState(target: StatusTarget, status: ConnectionStatus, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const source = statusSourceOf(target);
  return new Promise<void>((resolve, reject) => {
    const seen: ConnectionStatus[] = [];
    const stop = source.onChange((next) => {
      seen.push(next);
      if (next !== status) return;
      finish();
      resolve();
    });
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`no move to '${status}' within ${timeoutMs} ms (moves seen: ${seen.join(', ') || 'none'}; now '${source.status}')`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      stop();
    };
  });
}

/**
 * Resolves with the next event `subscription` records from now on (the next
 * one `accept` takes, if given). Rejects if the subscription errors first.
 */
export function nextEvent<TEvent>(
  subscription: RecordedSubscription<TEvent>,
  accept: (event: TEvent) => boolean = () => true,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  label = 'the next event',
): Promise<RecordedEvent<TEvent>> {
  return new Promise((resolve, reject) => {
    const stop = subscription.onRecord((record) => {
      if ('error' in record) {
        finish();
        reject(new Error(`subscription failed while waiting for ${label}`, { cause: record.error }));
      } else if (accept(record.event)) {
        finish();
        resolve(record);
      }
    });
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`${label}: not seen within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      stop();
    };
  });
}

export interface PollOptions<T> {
  /** Whether a value read is the one waited for. @default truthiness */
  readonly accept?: (value: T) => boolean;
  /** @default 5_000 */
  readonly timeoutMs?: number;
  /** @default 10 */
  readonly intervalMs?: number;
  /** How to wait between reads (a React test wraps it in `act`). @default a timer */
  readonly pause?: (ms: number) => Promise<unknown>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Reads `read` (which may be async, e.g. a query) every `intervalMs` until
 * the value is accepted, and returns it; fails after `timeoutMs` with the
 * last value. Only for facts no event announces: use `nextState`,
 * `nextEvent` or a recording's `until` where there is one.
 */
export async function pollUntil<T>(read: () => T | Promise<T>, label: string, options: PollOptions<T> = {}): Promise<T> {
  const { accept = Boolean, timeoutMs = DEFAULT_TIMEOUT_MS, intervalMs = 10, pause = sleep } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline) {
      const last = typeof value === 'boolean' ? '' : ` (last: ${JSON.stringify(value)?.slice(0, 300)})`;
      throw new Error(`${label}: not reached within ${timeoutMs} ms${last}`);
    }
    await pause(intervalMs);
  }
}

/**
 * Checks `check` every `intervalMs` until `deadline` (a `Date.now()` value)
 * and fails as soon as it does not hold: for "stays true" assertions, which
 * a single check after a sleep would only sample once.
 */
export async function holdsUntil(check: () => boolean | Promise<boolean>, deadline: number, label: string, intervalMs = 50): Promise<void> {
  for (let round = 0; round < 10_000; round++) {
    if (!(await check())) throw new Error(`${label}: stopped holding ${Math.max(0, deadline - Date.now())} ms before the deadline`);
    if (Date.now() >= deadline) return;
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}
