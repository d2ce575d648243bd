const EXPIRING = Symbol.for('herald.expiringUser');

/** A user whose credentials hold until `expiresAt`; `authenticate` returns one with `withExpiry`. */
export interface ExpiringUser<TUser> {
  readonly [EXPIRING]: true;
  /** The user, as `authenticate` would return it without an expiry. */
  readonly user: TUser;
  /** When the credentials stop holding, in ms since the epoch. */
  readonly expiresAt: number;
  /** When the credentials were issued, in ms since the epoch, if known (see `withExpiry`). */
  readonly issuedAt?: number;
}

/**
 * Says until when the user `authenticate` returns may be trusted: past
 * `expiresAt` (plus `auth.expiryGraceMs`) the server closes the connection
 * with `TOKEN_EXPIRED` unless the client refreshed its credentials in-band.
 * `jwtAuthenticator` does this with the token's `exp`.
 *
 * `issuedAt`, when given, is when the credentials were issued:
 * `server.disconnectUser` then refuses only credentials issued before it,
 * so the user is back as soon as it signs in again (without it, the user
 * is refused until the revocation lapses, `auth.revocationTtlMs`).
 * `jwtAuthenticator` passes the token's `iat`.
 *
 * @example
 * authenticate: async (params) => {
 *   const session = await sessions.verify(params?.token);
 *   return withExpiry(session.user, session.expiresAt, { issuedAt: session.createdAt });
 * }
 */
export function withExpiry<TUser>(user: TUser, expiresAt: number | Date, options: { readonly issuedAt?: number | Date } = {}): ExpiringUser<TUser> {
  const at = timeOf(expiresAt, 'withExpiry needs a time (ms since the epoch or a Date)');
  if (options.issuedAt === undefined) return { [EXPIRING]: true, user, expiresAt: at };
  return { [EXPIRING]: true, user, expiresAt: at, issuedAt: timeOf(options.issuedAt, 'withExpiry: issuedAt must be a time (ms since the epoch or a Date)') };
}

function timeOf(time: number | Date, message: string): number {
  const at = time instanceof Date ? time.getTime() : time;
  if (!Number.isFinite(at)) throw new TypeError(`${message}, got ${String(time)}`);
  return at;
}

/** What `authenticate` said: the user, until when (null: no expiry), and since when (null: not known). */
export interface Identity {
  readonly user: unknown;
  readonly expiresAt: number | null;
  readonly issuedAt: number | null;
}

export function identityOf(returned: unknown): Identity {
  if (typeof returned === 'object' && returned !== null && (returned as { [EXPIRING]?: unknown })[EXPIRING] === true) {
    const { user, expiresAt, issuedAt } = returned as ExpiringUser<unknown>;
    return { user: user ?? null, expiresAt, issuedAt: issuedAt ?? null };
  }
  return { user: returned ?? null, expiresAt: null, issuedAt: null };
}
