import { withTimeout } from '@herald/test-kit';

/** A test app's write: adds one to `counter` in `store`, then publishes the new total on `counters`. */
export function counterBump(store: Map<string, number>, counters: { publish(key: string, message: { total: number }): Promise<unknown> }) {
  return async (counter: string): Promise<void> => {
    const next = (store.get(counter) ?? 0) + 1;
    store.set(counter, next);
    await counters.publish(counter, { total: next });
  };
}

/** One result of a live query as a test sees it: its version and the counter total it carries. */
export interface Result {
  readonly id: string;
  readonly total: number;
}

/** One subscriber's results in arrival order, and waits on them (event-driven: checked after every result or error). */
export class Watcher {
  readonly results: Result[] = [];
  error: unknown = null;
  private readonly waiters = new Set<() => void>();

  onData = (event: { id: string; data: { counter: string; total: number } }) => {
    this.results.push({ id: event.id, total: event.data.total });
    this.notify();
  };

  onError = (error: unknown) => {
    this.error = error;
    this.notify();
  };

  get last(): Result | undefined {
    return this.results.at(-1);
  }

  /** Resolves once `done()` holds (checked now and after every result or error), bounded by `timeoutMs`. */
  until(done: () => boolean, label: string, timeoutMs = 10_000): Promise<void> {
    if (done()) return Promise.resolve();
    let listener: (() => void) | null = null;
    const reached = new Promise<void>((resolve) => {
      listener = () => {
        if (done()) resolve();
      };
      this.waiters.add(listener);
    });
    return withTimeout(reached, timeoutMs, label).finally(() => {
      if (listener) this.waiters.delete(listener);
    });
  }

  /** True when every version is greater than the one before it (no repeat, never backwards). */
  versionsIncrease(): boolean {
    return this.results.every((result, i) => i === 0 || BigInt(result.id) > BigInt(this.results[i - 1]!.id));
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

