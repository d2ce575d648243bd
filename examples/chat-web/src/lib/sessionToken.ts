import { createTRPCClient, httpLink } from '@trpc/client';
import { heraldCodeOf, transformer } from '@herald/client';
import type { AppRouter } from '@herald/example-chat-server';
import { shouldRefresh } from '@herald/example-chat-server/token-lifetime';
import { describeError } from './errors.js';
import type { Session } from './types.js';

/**
 * A new token for the holder of `token`, from `auth.refresh` over the
 * server's HTTP endpoint (`Authorization: Bearer`). HTTP, not the Herald
 * client: this runs while the client dials too, when its socket is not up.
 */
export async function fetchFreshToken(httpUrl: string, token: string): Promise<string> {
  const client = createTRPCClient<AppRouter>({
    links: [httpLink({ url: httpUrl, transformer, headers: { authorization: `Bearer ${token}` } })],
  });
  return (await client.auth.refresh.mutate()).token;
}

/**
 * The server refused the credentials (the token expired, or another secret
 * signed it): no retry with them can help. The tRPC code covers a stock
 * answer (`auth.refresh`'s own `UNAUTHORIZED`), the Herald code an in-band
 * refresh the server refused.
 */
export function refusesCredentials(error: unknown): boolean {
  const heraldCode = heraldCodeOf(error);
  if (heraldCode !== null) return heraldCode === 'UNAUTHORIZED' || heraldCode === 'TOKEN_EXPIRED';
  return describeError(error).code === 'UNAUTHORIZED';
}

/** Where a session lives: read synchronously, replaced whole. */
export interface SessionHolder {
  readonly current: Session | null;
  set(session: Session | null): void;
}

export interface SessionCredentialsOptions {
  readonly sessions: SessionHolder;
  /** Trades a token for a fresh one (`fetchFreshToken`). */
  readonly refresh: (token: string) => Promise<string>;
  /** The session cannot go on (its token was refused): show the sign-in page with `reason`. */
  readonly onRefused: (reason: string) => void;
}

/** What the sign-in page says when the session's token was refused. */
export const SESSION_ENDED = 'Your session is no longer valid. Please log in again.';

/**
 * The Herald client's `connectionParams`: the session's token, refreshed
 * first when it expires soon. The client calls it on every dial and ahead of
 * the server's expiry (then sends the result in-band: same socket, same
 * subscriptions). Calls that overlap share one refresh.
 *
 * - Refreshed: the session keeps the new token.
 * - The server refused the token: `onRefused`, and the call throws (there are
 *   no credentials to offer).
 * - The server could not be reached: the current token is offered as it is;
 *   the dial or the server decides.
 */
export function sessionCredentials(options: SessionCredentialsOptions): () => Promise<{ token: string } | null> {
  let pending: Promise<string> | null = null;
  return async () => {
    const session = options.sessions.current;
    if (!session) return null;
    if (!shouldRefresh(session.token)) return { token: session.token };
    pending ??= options.refresh(session.token).finally(() => {
      pending = null;
    });
    let token: string;
    try {
      token = await pending;
    } catch (error) {
      if (!refusesCredentials(error)) return { token: session.token };
      options.onRefused(SESSION_ENDED);
      throw new Error('The session token was refused', { cause: error });
    }
    const latest = options.sessions.current;
    // Signed out, or someone else signed in, while the refresh was out: it is not theirs.
    if (latest?.user.id !== session.user.id) return latest ? { token: latest.token } : null;
    options.sessions.set({ ...latest, token });
    return { token };
  };
}
