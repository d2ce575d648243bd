import { createTRPCClient, httpLink } from '@trpc/client';
import { heraldCodeOf, httpUrlOf, transformer } from '@herald/client';
import type { AppRouter } from '@herald/example-chat-server';
import { shouldRefresh } from '@herald/example-chat-server/token-lifetime';

/** The server refused the token (it expired, or another secret signed it): no retry with it can help. */
export function refusesCredentials(error: unknown): boolean {
  const heraldCode = heraldCodeOf(error);
  if (heraldCode !== null) return heraldCode === 'UNAUTHORIZED' || heraldCode === 'TOKEN_EXPIRED';
  const data = typeof error === 'object' && error !== null ? (error as { data?: { code?: unknown } }).data : undefined;
  return data?.code === 'UNAUTHORIZED';
}

export interface RefreshingCredentialsOptions {
  /** The chat server's WebSocket URLs: refreshes go to their HTTP endpoints, the next one when one cannot be reached. */
  readonly urls: readonly string[];
  /** The token from `auth.login`. */
  readonly token: string;
  /** The server refused the token: the service cannot go on as this user. */
  readonly onRefused: (error: unknown) => void;
}

/**
 * The Herald client's `connectionParams`: the service's token, first traded
 * for a fresh one through `auth.refresh` (over HTTP, so it works while the
 * client dials too) when it expires soon. The client calls it on every dial
 * and ahead of the server's expiry, and sends the result in-band on the open
 * socket. Calls that overlap share one refresh. A server that cannot be
 * reached gets the current token (the dial or the server decides); one that
 * refuses it ends the service's session: `onRefused`, and the call throws.
 */
export function refreshingCredentials(options: RefreshingCredentialsOptions): () => Promise<{ token: string }> {
  let token = options.token;
  let pending: Promise<string> | null = null;
  return async () => {
    if (!shouldRefresh(token)) return { token };
    pending ??= fetchFreshToken(options.urls, token).finally(() => {
      pending = null;
    });
    try {
      token = await pending;
    } catch (error) {
      if (!refusesCredentials(error)) return { token };
      options.onRefused(error);
      throw new Error('The service token was refused', { cause: error });
    }
    return { token };
  };
}

/** `auth.refresh` with `Authorization: Bearer <token>` at the first server that answers. */
async function fetchFreshToken(urls: readonly string[], token: string): Promise<string> {
  let lastError: unknown = new Error('No server URL to refresh the token at');
  for (const url of urls) {
    const client = createTRPCClient<AppRouter>({
      links: [httpLink({ url: httpUrlOf(url), transformer, headers: { authorization: `Bearer ${token}` } })],
    });
    try {
      return (await client.auth.refresh.mutate()).token;
    } catch (error) {
      if (refusesCredentials(error)) throw error;
      lastError = error;
    }
  }
  throw lastError;
}
