import { randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { User } from './schemas.js';

const ISSUER = 'herald-chat';
const ALGORITHM = 'HS256';

export interface TokenIssuer {
  sign(user: User): Promise<string>;
  /** The token's user, or the reason it was refused. */
  verify(token: string): Promise<{ ok: true; user: User } | { ok: false; reason: string }>;
}

/**
 * HS256 session tokens. Every node of one deployment must share the secret
 * (`AUTH_SECRET`) so a token from one node is good on all.
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
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, key, { issuer: ISSUER, algorithms: [ALGORITHM] });
        const user = User.safeParse({ id: payload.sub, name: payload['name'] });
        return user.success ? { ok: true, user: user.data } : { ok: false, reason: 'token has no valid user' };
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'token expired' };
        return { ok: false, reason: 'token signature or format invalid' };
      }
    },
  };
}

/** A random secret for a single node that was given none. */
export function randomSecret(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}
