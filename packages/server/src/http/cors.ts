import { CONNECTION_PARAMS_HEADER, CREDENTIALS_EXPIRY_HEADER, IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import type { OriginCheck } from '../transport/clientAddress.js';
import type { RequestHead } from '../transport/requestHead.js';
import type { HttpAnswer } from './exchange.js';

/** The request headers Herald's client and tRPC's links send (W3C trace context among them). */
const ALLOWED_HEADERS = ['content-type', 'authorization', IDEMPOTENCY_KEY_HEADER, CONNECTION_PARAMS_HEADER, 'trpc-accept', 'last-event-id', 'traceparent', 'tracestate'].join(', ');
/** The answer headers Herald's client reads. */
const EXPOSED_HEADERS = ['idempotent-replayed', CREDENTIALS_EXPIRY_HEADER, 'retry-after'].join(', ');
/** How long a browser may keep a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * CORS for the HTTP fallback: a page of an origin `allowedOrigins` lets in
 * may call from another origin. Its preflight is answered (the methods and
 * headers Herald uses), and every answer to it carries
 * `Access-Control-Allow-Origin` (with `Vary: Origin`). Other origins get
 * no CORS header at all, and the request gate refuses their requests.
 */
export class Cors {
  constructor(
    /** The `allowedOrigins` check, or null when every origin may call. */
    private readonly originAllowed: OriginCheck | null,
    private readonly credentials: boolean,
  ) {}

  /** Whether `req` is a CORS preflight (an `OPTIONS` with `Access-Control-Request-Method`). */
  isPreflight(req: RequestHead): boolean {
    return req.method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined;
  }

  /** The answer to a preflight the gate let in (after `allow`'s headers): 204 with what the browser may send. */
  preflightAnswer(): HttpAnswer {
    return {
      status: 204,
      headers: {
        'access-control-allow-methods': 'GET, POST, HEAD, OPTIONS',
        'access-control-allow-headers': ALLOWED_HEADERS,
        'access-control-max-age': String(PREFLIGHT_MAX_AGE_S),
        'cache-control': 'no-store',
      },
    };
  }

  /** The headers that let the browser read the answer to `req` when its origin is allowed (none when it is not). */
  allow(req: RequestHead): Record<string, string> {
    const origin = req.headers.origin;
    if (origin === undefined || (this.originAllowed !== null && !this.originAllowed(origin, req))) return {};
    const headers: Record<string, string> = {
      'access-control-allow-origin': origin,
      vary: 'Origin',
      'access-control-expose-headers': EXPOSED_HEADERS,
    };
    if (this.credentials) headers['access-control-allow-credentials'] = 'true';
    return headers;
  }
}
