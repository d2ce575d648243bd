import { describe, expect, it } from 'vitest';
import { CloseCode } from '@herald/shared';
import { refusalOf } from '../src/connection/refusal.js';
import type { SessionEnd } from '../src/sessions/session.js';

/** What a socket closed without a close code reports (RFC 6455 7.1.5); a stock tRPC server closes that way. */
const NO_STATUS_RECEIVED = 1005;

function ended(details: Partial<SessionEnd>): SessionEnd {
  return { wasReady: false, code: null, error: new Error('ended'), refused: false, httpStatus: null, retryAfterMs: null, serverError: null, ...details };
}

describe('refusalOf', () => {
  it('reads refused credentials from the close code, the HTTP status, or the error sent for the connection', () => {
    expect(refusalOf(ended({ wasReady: true, code: CloseCode.UNAUTHORIZED }))?.kind).toBe('credentials');
    expect(refusalOf(ended({ code: CloseCode.ABNORMAL_CLOSURE, httpStatus: 401 }))?.kind).toBe('credentials');
    const stock = refusalOf(ended({ wasReady: true, code: NO_STATUS_RECEIVED, serverError: { code: 'UNAUTHORIZED', message: 'no' } }));
    expect(stock).toMatchObject({ kind: 'credentials', callError: { heraldCode: 'UNAUTHORIZED' } });
  });

  it('counts 403 and 404 as refusals a retry cannot fix, with the code calls fail with', () => {
    expect(refusalOf(ended({ code: CloseCode.ABNORMAL_CLOSURE, httpStatus: 403 }))).toMatchObject({
      kind: 'final',
      callError: { heraldCode: 'FORBIDDEN', trpcCode: 'FORBIDDEN' },
    });
    expect(refusalOf(ended({ code: CloseCode.ABNORMAL_CLOSURE, httpStatus: 404 }))).toMatchObject({
      kind: 'final',
      callError: { heraldCode: null, trpcCode: 'NOT_FOUND' },
    });
    expect(refusalOf(ended({ wasReady: true, code: CloseCode.FORBIDDEN_ORIGIN }))?.kind).toBe('final');
  });

  it('retries a full or draining server, keeping its Retry-After', () => {
    expect(refusalOf(ended({ code: CloseCode.ABNORMAL_CLOSURE, httpStatus: 429, retryAfterMs: 1_000 }))).toMatchObject({ kind: 'busy', retryAfterMs: 1_000 });
    expect(refusalOf(ended({ code: CloseCode.ABNORMAL_CLOSURE, httpStatus: 503 }))?.kind).toBe('busy');
  });

  it('is no refusal when the server failed or the network did', () => {
    expect(refusalOf(ended({ wasReady: true, code: CloseCode.INTERNAL_ERROR, serverError: { code: 'INTERNAL_SERVER_ERROR', message: 'boom' } }))).toBeNull();
    expect(refusalOf(ended({ code: CloseCode.ABNORMAL_CLOSURE }))).toBeNull();
    expect(refusalOf(ended({ wasReady: true, code: CloseCode.GOING_AWAY }))).toBeNull();
    expect(refusalOf(ended({ code: null, error: new Error('No answer to PING within 5000 ms') }))).toBeNull();
  });
});
