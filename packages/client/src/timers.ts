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
