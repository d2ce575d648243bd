/** Node timers keep the process alive; a client's own timers should not (browsers have no `unref`). */
export function unref(timer: unknown): void {
  (timer as { unref?: () => void }).unref?.();
}
