import type { AnyRouter } from '@trpc/server';
import type { TRPCClientError } from '@trpc/client';
import { asError, clientError } from '../errors.js';
import type { ConnectionParamsOption } from '../options.js';
import { unref } from '../timers.js';
import type { ConnectionNotice, ConnectionParams, Session } from '../sessions/session.js';

/** What the server said of the credentials (see `ConnectionNotice`). */
export type CredentialsNotice = Pick<Extract<ConnectionNotice, { type: 'credentials' }>, 'expiresInMs' | 'refused'>;

/**
 * How long before its credentials expire a connection refreshes them: a
 * quarter of the remaining time, at most a minute, so a 15-minute token is
 * refreshed a minute early and a 4-second one after 3 seconds.
 */
export function refreshDelayMs(expiresInMs: number): number {
  return Math.max(0, Math.max(expiresInMs * 0.75, expiresInMs - MAX_REFRESH_LEAD_MS));
}

const MAX_REFRESH_LEAD_MS = 60_000;

/**
 * Keeps a connection's credentials fresh without reconnecting: when the
 * server says how long it trusts them (its session notice), this asks the
 * app's `connectionParams` function again ahead of that time and sends the
 * result on the open session. Same socket, same subscriptions; the server
 * answers with the new expiry, or with why it refused (then the connection
 * ends at the old expiry, is closed with 4005, and reconnects with fresh
 * `connectionParams`).
 *
 * Static `connectionParams` cannot be refreshed: such a connection is
 * closed at expiry and reconnects.
 */
export class CredentialRefresh {
  #timer: ReturnType<typeof setTimeout> | null = null;
  #session: Session | null = null;

  readonly #source: ConnectionParamsOption;
  readonly #onError: (error: TRPCClientError<AnyRouter>) => void;

  constructor(
    source: ConnectionParamsOption,
    onError: (error: TRPCClientError<AnyRouter>) => void,
  ) {
    this.#source = source;
    this.#onError = onError;
  }

  /** The server said how long it trusts the credentials of `session` (the one in use), or why it refused fresh ones. */
  onNotice(session: Session, notice: CredentialsNotice): void {
    this.clear();
    const { expiresInMs, refused } = notice;
    if (refused) {
      this.#onError(clientError(refused.heraldCode, `The server refused the refreshed credentials: ${refused.message}`));
      return;
    }
    const source = this.#source;
    if (expiresInMs === null || typeof source !== 'function') return;
    this.#session = session;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#refresh(session, source);
    }, refreshDelayMs(expiresInMs));
    unref(this.#timer);
  }

  /** Stops the pending refresh (the session ended or changed, or the client closed). */
  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#session = null;
  }

  async #refresh(session: Session, source: () => ConnectionParams | null | Promise<ConnectionParams | null>): Promise<void> {
    let params: ConnectionParams | null;
    try {
      params = await source();
    } catch (cause) {
      this.#onError(clientError('UNAUTHORIZED', `connectionParams failed during a credentials refresh: ${asError(cause).message}`));
      return;
    }
    // The session may have ended (or been replaced) while the app fetched a token: the new one got fresh params when it dialed.
    if (this.#session !== session || !session.isReady || !params) return;
    session.refreshCredentials(params);
  }
}
