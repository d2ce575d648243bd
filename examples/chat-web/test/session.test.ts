import { describe, expect, it } from 'vitest';
import { refusedAtConnect } from '../src/lib/session.js';

describe('refusedAtConnect', () => {
  it('is true only when the server closed the connection with 4001 (credentials refused)', () => {
    expect(refusedAtConnect({ status: 'reconnecting', attempt: 1, error: new Error('WebSocket closed (4001: unauthorized)') })).toBe(true);
    expect(refusedAtConnect({ status: 'reconnecting', attempt: 2, error: new Error('WebSocket closed (4002: slow consumer)') })).toBe(false);
    expect(refusedAtConnect({ status: 'reconnecting', attempt: 1, error: new Error('WebSocket closed (1006)') })).toBe(false);
    expect(refusedAtConnect({ status: 'reconnecting', attempt: 1, error: null })).toBe(false);
    expect(refusedAtConnect({ status: 'closed' })).toBe(false);
  });
});
