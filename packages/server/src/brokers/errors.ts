/**
 * A broker could not do what was asked: not reachable, refused, timed out,
 * or closed. Channels and keyed mutations report it to clients as
 * `BROKER_UNAVAILABLE`.
 *
 * `outcomeUnknown` says whether the operation may still have happened: false
 * when it never reached the broker or the broker refused it (not connected,
 * closed, an error reply such as OOM or READONLY); true when it was sent and
 * no answer came (a timeout, a connection lost mid-command), so the broker
 * may run it, or have run it, anyway. A publish that fails with
 * `outcomeUnknown` may have been stored; one that fails without it was not.
 */
export class BrokerUnavailableError extends Error {
  readonly code = 'BROKER_UNAVAILABLE';
  readonly outcomeUnknown: boolean;
  /** The broker was closed: final, unlike an outage, so nothing waits for it to come back. */
  readonly closed: boolean;

  constructor(message: string, options: { cause?: unknown; outcomeUnknown?: boolean; closed?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = 'BrokerUnavailableError';
    this.outcomeUnknown = options.outcomeUnknown ?? false;
    this.closed = options.closed ?? false;
  }
}

/**
 * Whether `error` is a broker failure: a `BrokerUnavailableError`, or an
 * error with the `BROKER_UNAVAILABLE` Herald code (what channels throw), or
 * one caused by either (tRPC wraps what a procedure throws). Read by shape,
 * not class: it must not import the server's error classes.
 */
export function isBrokerFailure(error: unknown): boolean {
  for (let depth = 0, current = error; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if (current instanceof BrokerUnavailableError) return true;
    if ((current as { heraldCode?: unknown }).heraldCode === 'BROKER_UNAVAILABLE') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
