import type { IncomingMessage } from 'node:http';

/**
 * The client's address: the socket's, or with `trustProxy` the first
 * `X-Forwarded-For` entry (what the proxy saw). Both transports count and
 * log clients by it.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = req.headers['x-forwarded-for'];
    const first = (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/** Which browser origins may call: exact origins or a predicate (`allowedOrigins`). */
export type OriginAllowList = readonly string[] | ((origin: string) => boolean);

/**
 * The check `allowedOrigins` asks for, or null when every origin may call.
 * Listed origins compare case-insensitively, without a trailing slash.
 */
export function originPolicy(allowed: OriginAllowList | undefined): ((origin: string) => boolean) | null {
  if (allowed === undefined) return null;
  if (typeof allowed === 'function') return allowed;
  const set = new Set(allowed.map(normalizeOrigin));
  return (origin) => set.has(normalizeOrigin(origin));
}

function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}
