import { describe, expect, it } from 'vitest';
import { refusedAtConnect } from '../src/lib/session.js';

describe('refusedAtConnect', () => {
  it('is true when the server closed the connection with 4001 (credentials refused)', () => {
    const lost = (closeCode: number | null) => ({ status: 'reconnecting' as const, attempt: 1, error: new Error('WebSocket closed'), closeCode });
    expect(refusedAtConnect(lost(4001))).toBe(true);
    expect(refusedAtConnect(lost(4002))).toBe(false);
    expect(refusedAtConnect(lost(4005))).toBe(false);
    expect(refusedAtConnect(lost(1006))).toBe(false);
    expect(refusedAtConnect(lost(null))).toBe(false);
  });

  it('is true when the client stopped on refused credentials, false when it was closed or stopped for another reason', () => {
    const stopped = (closeCode: number | null, httpStatus: number | null) => ({
      status: 'closed' as const,
      refusal: { closeCode, httpStatus, error: new Error('refused') },
    });
    expect(refusedAtConnect(stopped(4001, null))).toBe(true);
    expect(refusedAtConnect(stopped(null, 401))).toBe(true);
    expect(refusedAtConnect(stopped(null, 403))).toBe(false);
    expect(refusedAtConnect(stopped(null, 404))).toBe(false);
    expect(refusedAtConnect({ status: 'closed' })).toBe(false);
  });
});
