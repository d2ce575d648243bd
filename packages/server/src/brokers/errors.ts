/**
 * A broker could not do what was asked: not reachable, timed out, or closed.
 * The operation did not happen (a publish that rejects with this was not stored).
 * Channels report it to clients as `BROKER_UNAVAILABLE`.
 */
export class BrokerUnavailableError extends Error {
  readonly code = 'BROKER_UNAVAILABLE';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'BrokerUnavailableError';
  }
}
