import { randomBytes } from 'node:crypto';
import type { Authenticate } from '@herald/server';
import { jwtAuthenticator } from '@herald/server/jwt';
import { SignJWT } from 'jose';
import { User } from './schemas.js';

const ISSUER = 'herald-chat';
const ALGORITHM = 'HS256';

export interface TokenIssuer {
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
 * token from one node is good on all.
 */
export function createTokenIssuer(secret: string | Uint8Array, ttlSeconds = 24 * 60 * 60): TokenIssuer {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (key.byteLength < 32) throw new TypeError('The token secret must be at least 32 bytes');
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
