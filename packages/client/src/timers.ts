/** Node timers keep the process alive; a client's own timers should not (browsers have no `unref`). */
export function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}

/**
 * How often a session checks its heartbeat: a quarter of the shorter of its
 * two bounds (at least 10 ms), so a missed `PONG` is noticed within a quarter
 * of `pongTimeoutMs` of its deadline.
 */
export function heartbeatTickMs(pingIntervalMs: number, pongTimeoutMs: number): number {
  return Math.max(10, Math.floor(Math.min(pingIntervalMs, pongTimeoutMs) / 4));
}

/** `Retry-After` in seconds (the form Herald sends), in ms; absent, an HTTP date or garbage gives null. */
export function retryAfterMsOf(header: string | null | undefined): number | null {
  const value = header?.trim();
  return value !== undefined && /^\d+$/.test(value) ? Number(value) * 1_000 : null;
}

/** The tasks of one period, on one timer (made with the `setInterval` current when the first of them came). */
interface IntervalGroup {
  readonly setInterval: typeof setInterval;
  readonly tasks: Set<() => void>;
  timer: ReturnType<typeof setInterval> | null;
}

const groups = new Map<number, IntervalGroup[]>();

/**
 * Runs `task` every `periodMs` on a timer it shares with every other task of
 * the same period: one timer per distinct period in the process, however
 * many clients, sessions and trackers run (a process with a hundred clients
 * wakes twice per period, not two hundred times). A task's first run comes
 * within one period. Returns the function that stops it. A task that throws
 * does not keep the others of its tick from running; its error is rethrown
 * after them. Fake timers installed later get a group of their own.
 */
export function everyMs(periodMs: number, task: () => void): () => void {
  const list = groups.get(periodMs) ?? [];
  groups.set(periodMs, list);
  let group = list.find((candidate) => candidate.setInterval === globalThis.setInterval);
  if (!group) {
    group = { setInterval: globalThis.setInterval, tasks: new Set(), timer: null };
    list.push(group);
  }
  const owner = group;
  owner.tasks.add(task);
  if (owner.timer === null) {
    // Called on the global object: a browser's setInterval throws "Illegal invocation" on any other `this`.
    owner.timer = owner.setInterval.call(globalThis, () => runAll(owner.tasks), periodMs);
    unref(owner.timer);
  }
  return () => {
    if (!owner.tasks.delete(task) || owner.tasks.size > 0) return;
    clearInterval(owner.timer!);
    owner.timer = null;
    list.splice(list.indexOf(owner), 1);
    if (list.length === 0) groups.delete(periodMs);
  };
}

function runAll(tasks: Set<() => void>): void {
  let failure: { error: unknown } | null = null;
  for (const task of tasks) {
    try {
      task();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}
