import { describe, expect, it } from 'vitest';
import { refusedAtConnect } from '../src/lib/session.js';

describe('refusedAtConnect', () => {
  it('is true only when the server closed the connection with 4001 (credentials refused)', () => {
    const lost = (closeCode: number | null) => ({ status: 'reconnecting' as const, attempt: 1, error: new Error('WebSocket closed'), closeCode });
    expect(refusedAtConnect(lost(4001))).toBe(true);
    expect(refusedAtConnect(lost(4002))).toBe(false);
    expect(refusedAtConnect(lost(1006))).toBe(false);
    expect(refusedAtConnect(lost(null))).toBe(false);
    expect(refusedAtConnect({ status: 'closed' })).toBe(false);
  });
});
