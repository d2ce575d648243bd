import { randomBytes } from 'node:crypto';
import type { Authenticate } from '@herald/server';
import { jwtAuthenticator } from '@herald/server/jwt';
import { SignJWT } from 'jose';
import { User } from './schemas.js';

const ISSUER = 'herald-chat';
const ALGORITHM = 'HS256';

/** How long a demo token is good for: 15 minutes. Clients refresh in-band with `auth.refresh` before it runs out. */
export const DEFAULT_TOKEN_TTL_S = 15 * 60;

export interface TokenIssuer {
  /** A token for `user`, good for the issuer's lifetime from now. */
  sign(user: User): Promise<string>;
  /**
   * The server's `authenticate`: a connection without a token is anonymous
   * (so `auth.login` works), one with a token that fails is refused at
   * connect (UNAUTHORIZED, close 4001).
   */
  readonly authenticate: Authenticate<User>;
}

/**
 * HS256 session tokens: signed here, verified by Herald's `jwtAuthenticator`.
 * Every node of one deployment must share the secret (`AUTH_SECRET`) so a
 * token from one node is good on all. Each token carries `exp`, which
 * `jwtAuthenticator` hands to Herald: a connection is trusted until then
 * (plus the server's grace) unless its client refreshes in-band.
 */
export function createTokenIssuer(secret: string | Uint8Array, ttlSeconds = DEFAULT_TOKEN_TTL_S): TokenIssuer {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (key.byteLength < 32) throw new TypeError('The token secret must be at least 32 bytes');
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) throw new TypeError(`The token lifetime must be a whole number of seconds, at least 1 (got ${ttlSeconds})`);
  return {
    async sign(user) {
      return new SignJWT({ name: user.name })
        .setProtectedHeader({ alg: ALGORITHM })
        .setSubject(user.id)
        .setIssuer(ISSUER)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(key);
    },
    authenticate: jwtAuthenticator({
      secret: key,
      issuer: ISSUER,
      algorithms: [ALGORITHM],
      toUser: (payload) => User.parse({ id: payload.sub, name: payload['name'] }),
    }),
  };
}

/** A random secret for a single node that was given none. */
export function randomSecret(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}
