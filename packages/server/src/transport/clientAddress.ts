import type { IncomingMessage } from 'node:http';
import type { RequestHead } from './requestHead.js';

/**
 * The client's address: the socket's, or with `trustProxy` the first
 * `X-Forwarded-For` entry (what the proxy saw). Both transports count and
 * log clients by it.
 */
export function clientAddress(req: IncomingMessage, trustProxy: boolean): string {
  return forwardedAddress(req, trustProxy) ?? req.socket.remoteAddress ?? 'unknown';
}

/** With `trustProxy`, the first `X-Forwarded-For` entry of `req` (what the proxy saw); else, or without one, undefined. */
export function forwardedAddress(req: RequestHead, trustProxy: boolean): string | undefined {
  return trustProxy ? firstHeaderValue(req.headers['x-forwarded-for']) : undefined;
}

/** Which browser origins may call: exact origins, a predicate, or `'*'` for any (`allowedOrigins`). */
export type OriginAllowList = readonly string[] | ((origin: string) => boolean) | '*';

/** Whether a request's `Origin` may call; requests without one (non-browser clients) are not checked. */
export type OriginCheck = (origin: string, req: RequestHead) => boolean;

/**
 * The check `allowedOrigins` asks for, or null when every origin may call
 * (`'*'`). Listed origins compare case-insensitively, without a trailing
 * slash. Without a list, only the server's own origin may call: the
 * `Origin`'s host must be the request's `Host` (`X-Forwarded-Host` with
 * `trustProxy`), as Phoenix checks origins.
 */
export function originPolicy(allowed: OriginAllowList | undefined, trustProxy: boolean): OriginCheck | null {
  if (allowed === '*') return null;
  if (allowed === undefined) return (origin, req) => sameOrigin(origin, req, trustProxy);
  if (typeof allowed === 'function') return (origin) => allowed(origin);
  const set = new Set(allowed.map(normalizeOrigin));
  return (origin) => set.has(normalizeOrigin(origin));
}

function sameOrigin(origin: string, req: RequestHead, trustProxy: boolean): boolean {
  const host = (trustProxy ? firstHeaderValue(req.headers['x-forwarded-host']) : undefined) ?? req.headers.host;
  if (!host) return false;
  let originUrl: URL;
  try {
    originUrl = new URL(origin);
  } catch {
    return false;
  }
  let requestHost: string;
  try {
    // Parsed with the origin's scheme, so a default port written out (`:443`) compares equal to none.
    requestHost = new URL(`${originUrl.protocol}//${host}`).host;
  } catch {
    return false;
  }
  return originUrl.host.toLowerCase() === requestHost.toLowerCase();
}

function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}

function firstHeaderValue(header: string | string[] | undefined): string | undefined {
  return (Array.isArray(header) ? header[0] : header)?.split(',')[0]?.trim() || undefined;
}

/**
 * Logs one warning per server the first time a request carries
 * `X-Forwarded-For` while `trustProxy` is off: behind a proxy every client
 * then has the proxy's address, and per-address limits lock people out.
 */
export class ProxyHeaderWarning {
  private warned = false;

  constructor(
    private readonly trustProxy: boolean,
    private readonly warn: (message: string) => void,
  ) {}

  check(req: RequestHead): void {
    if (this.warned || this.trustProxy || req.headers['x-forwarded-for'] === undefined) return;
    this.warned = true;
    this.warn(
      'Requests carry X-Forwarded-For but trustProxy is off: every client behind the proxy shares its address, ' +
        'so per-address limits (maxConnectionsPerIp, failed authentications) apply to all of them together. ' +
        'Set trustProxy: true if the proxy overwrites X-Forwarded-For.',
    );
  }
}
