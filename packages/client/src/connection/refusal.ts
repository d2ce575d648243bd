import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import type { HeraldErrorCode } from '@herald/shared';
import { CLOSE_FORBIDDEN_ORIGIN, CLOSE_UNAUTHORIZED } from '@herald/shared/internal';
import type { SessionEnd } from '../sessions/session.js';

/**
 * How the client answers a server that said no.
 *
 * - `credentials`: the credentials were refused: the server closed with
 *   `CloseCode.UNAUTHORIZED`, sent an `UNAUTHORIZED` error about the
 *   connection before closing (a stock tRPC server whose `createContext`
 *   threw one), or answered the attempt with HTTP 401. The retry asks
 *   `connectionParams` for fresh ones.
 * - `final`: the server will not take this client whatever it sends: the
 *   origin is refused (HTTP 403, `CloseCode.FORBIDDEN_ORIGIN`) or nothing is
 *   served at the URL (HTTP 404). A retry cannot fix either, but one is made:
 *   a server in the middle of a deploy, or a load balancer without a healthy
 *   backend, can answer 404 or 403 for a moment.
 * - `busy`: the server is full or draining (HTTP 429, 503): retry with
 *   backoff, and not sooner than its `Retry-After`.
 *
 * `credentials` and `final` refusals count towards stopping: after
 * `MAX_REFUSALS_IN_ROW` of them with no connection the server served in
 * between, the client stops in `closed` and waits for `client.reconnect()`.
 */
export type RefusalKind = 'credentials' | 'final' | 'busy';

export interface Refusal {
  readonly kind: RefusalKind;
  readonly closeCode: number | null;
  readonly httpStatus: number | null;
  /** The earliest the server wants to see the next attempt, when it said. */
  readonly retryAfterMs: number | null;
  /**
   * What calls waiting on a stopped client fail with: the Herald code when
   * the catalogue has one (`UNAUTHORIZED`, `FORBIDDEN`), else only a tRPC
   * code (`NOT_FOUND` for a 404).
   */
  readonly callError: { readonly heraldCode: HeraldErrorCode | null; readonly trpcCode: TRPC_ERROR_CODE_KEY };
}

/**
 * Refusals in a row that stop the client: the first is retried (with fresh
 * `connectionParams`, after backoff), the second stops it.
 */
export const MAX_REFUSALS_IN_ROW = 2;

const CREDENTIALS_STATUSES = new Set([401]);
const FORBIDDEN_STATUSES = new Set([403]);
const NOT_FOUND = 404;
const BUSY_STATUSES = new Set([429, 503]);

/** What kind of refusal ended `end`, or null when it ended for another reason (network, heartbeat, a crash). */
export function refusalOf(end: SessionEnd): Refusal | null {
  const base = { closeCode: end.code, httpStatus: end.httpStatus, retryAfterMs: end.retryAfterMs };
  const status = end.httpStatus;
  if (end.code === CLOSE_UNAUTHORIZED || end.serverError?.code === 'UNAUTHORIZED' || (status !== null && CREDENTIALS_STATUSES.has(status))) {
    return { ...base, kind: 'credentials', callError: { heraldCode: 'UNAUTHORIZED', trpcCode: 'UNAUTHORIZED' } };
  }
  if (status === NOT_FOUND) return { ...base, kind: 'final', callError: { heraldCode: null, trpcCode: 'NOT_FOUND' } };
  if (end.code === CLOSE_FORBIDDEN_ORIGIN || (status !== null && FORBIDDEN_STATUSES.has(status))) {
    return { ...base, kind: 'final', callError: { heraldCode: 'FORBIDDEN', trpcCode: 'FORBIDDEN' } };
  }
  if (status !== null && BUSY_STATUSES.has(status)) {
    return { ...base, kind: 'busy', callError: { heraldCode: 'LIMIT_EXCEEDED', trpcCode: 'TOO_MANY_REQUESTS' } };
  }
  return null;
}
