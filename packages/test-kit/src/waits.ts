/**
 * Bounded waits. Prefer the event-driven ones: `nextState` for a connection
 * status, `nextEvent` or a recording's `until` for subscription events,
 * `nextError` for a subscription's refusal,
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
 * The promise `listen`'s callbacks settle, or a rejection with
 * `timeoutMessage()` after `timeoutMs`. `listen` starts listening and
 * returns the function that stops it, called once the promise settles.
 */
function settledBy<T>(
  listen: (resolve: (value: T) => void, reject: (error: Error) => void) => () => void,
  timeoutMs: number,
  timeoutMessage: () => string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let stop: (() => void) | undefined = undefined;
    const finish = () => {
      settled = true;
      clearTimeout(timer);
      stop?.();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(timeoutMessage()));
    }, timeoutMs);
    stop = listen(
      (value) => {
        finish();
        resolve(value);
      },
      (error) => {
        finish();
        reject(error);
      },
    );
    if (settled) stop();
  });
}

/**
 * Resolves on the next change of `target`'s connection to `status` (not on
 * the status it has now): call it before the action that causes the change.
 */
export function nextState(target: StatusTarget, status: ConnectionStatus, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
  const source = statusSourceOf(target);
  const seen: ConnectionStatus[] = [];
  return settledBy<void>(
    (resolve) =>
      source.onChange((next) => {
        seen.push(next);
        if (next === status) resolve();
      }),
    timeoutMs,
    () => `no move to '${status}' within ${timeoutMs} ms (moves seen: ${seen.join(', ') || 'none'}; now '${source.status}')`,
  );
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
  return settledBy(
    (resolve, reject) =>
      subscription.onRecord((record) => {
        if ('error' in record) reject(new Error(`subscription failed while waiting for ${label}`, { cause: record.error }));
        else if (accept(record.event)) resolve(record);
      }),
    timeoutMs,
    () => `${label}: not seen within ${timeoutMs} ms`,
  );
}

/**
 * Resolves with the error `subscription` fails with (already recorded, or the
 * next one): for a subscription the test expects to be refused. Rejects if
 * an event comes first.
 */
export function nextError<TEvent>(subscription: RecordedSubscription<TEvent>, timeoutMs = DEFAULT_TIMEOUT_MS, label = 'the error'): Promise<unknown> {
  if (subscription.events.length > 0) return Promise.reject(new Error(`${label}: an event came first`));
  if (subscription.errors.length > 0) return Promise.resolve(subscription.errors[0]);
  return settledBy<unknown>(
    (resolve, reject) =>
      subscription.onRecord((record) => {
        if ('error' in record) resolve(record.error);
        else reject(new Error(`${label}: an event came first`));
      }),
    timeoutMs,
    () => `${label}: not seen within ${timeoutMs} ms`,
  );
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
