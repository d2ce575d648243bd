import { decodeJwt } from 'jose';

/**
 * The clients' side of the demo's tokens (the web app and the Node service
 * both refresh with it; it reads a token, it does not verify one).
 *
 * A token is swapped for a fresh one once it has less than this left (or
 * less than half its life, for short ones). Herald's client asks for
 * credentials a minute (at most a quarter of the life) before the server's
 * expiry, so that ask always finds the token inside the margin, with room
 * for a client clock a little off the server's.
 */
export const REFRESH_MARGIN_MS = 2 * 60_000;

/** Whether `token` expires soon enough to be refreshed before use. A token without `exp` (or not a JWT) is used as it is. */
export function shouldRefresh(token: string, now: number = Date.now()): boolean {
  let claims: ReturnType<typeof decodeJwt>;
  try {
    // Read, not verified: the server verifies; a client only needs to know when.
    claims = decodeJwt(token);
  } catch {
    return false;
  }
  if (typeof claims.exp !== 'number') return false;
  const lifetimeMs = typeof claims.iat === 'number' ? (claims.exp - claims.iat) * 1000 : Infinity;
  return claims.exp * 1000 - now <= Math.min(REFRESH_MARGIN_MS, lifetimeMs / 2);
}
