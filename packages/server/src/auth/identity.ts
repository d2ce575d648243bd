const EXPIRING = Symbol.for('herald.expiringUser');

/** A user whose credentials hold until `expiresAt`; `authenticate` returns one with `withExpiry`. */
export interface ExpiringUser<TUser> {
  readonly [EXPIRING]: true;
  /** The user, as `authenticate` would return it without an expiry. */
  readonly user: TUser;
  /** When the credentials stop holding, in ms since the epoch. */
  readonly expiresAt: number;
}

/**
 * Says until when the user `authenticate` returns may be trusted: past
 * `expiresAt` (plus `auth.expiryGraceMs`) the server closes the connection
 * with `TOKEN_EXPIRED` unless the client refreshed its credentials in-band.
 * `jwtAuthenticator` does this with the token's `exp`.
 *
 * @example
 * authenticate: async (params) => {
 *   const session = await sessions.verify(params?.token);
 *   return withExpiry(session.user, session.expiresAt);
 * }
 */
export function withExpiry<TUser>(user: TUser, expiresAt: number | Date): ExpiringUser<TUser> {
  const at = expiresAt instanceof Date ? expiresAt.getTime() : expiresAt;
  if (!Number.isFinite(at)) throw new TypeError(`withExpiry needs a time (ms since the epoch or a Date), got ${String(expiresAt)}`);
  return { [EXPIRING]: true, user, expiresAt: at };
}

/** What `authenticate` said: the user, and until when (null: no expiry). */
export interface Identity {
  readonly user: unknown;
  readonly expiresAt: number | null;
}

export function identityOf(returned: unknown): Identity {
  if (typeof returned === 'object' && returned !== null && (returned as { [EXPIRING]?: unknown })[EXPIRING] === true) {
    const { user, expiresAt } = returned as ExpiringUser<unknown>;
    return { user: user ?? null, expiresAt };
  }
  return { user: returned ?? null, expiresAt: null };
}
