import { describe, expect, it } from 'vitest';
import { memoryIdempotencyStore } from '../../src/brokers/idempotency.js';
import { STREAM_TICKET_TTL_MS, StreamTickets } from '../../src/transport/streamTickets.js';

/** Tickets in the memory store, on a clock the test moves. */
function ticketsAt(start = 1_000_000) {
  let now = start;
  const tickets = new StreamTickets(memoryIdempotencyStore(() => now));
  return { tickets, advance: (ms: number) => (now += ms) };
}

describe('StreamTickets', () => {
  it('redeems a ticket once, for the credentials it was issued for', async () => {
    const { tickets } = ticketsAt();
    const params = { token: 'secret-token', room: 'lobby' };
    const { ticket, expiresInMs } = await tickets.issue(params);
    expect(expiresInMs).toBe(STREAM_TICKET_TTL_MS);
    expect(await tickets.redeem(ticket)).toEqual({ ok: true, params });
    expect(await tickets.redeem(ticket)).toEqual({ ok: false, reason: 'used' });
  });

  it('refuses a ticket past its lifetime, and one it never issued', async () => {
    const { tickets, advance } = ticketsAt();
    const early = await tickets.issue({ token: 't' });
    const late = await tickets.issue({ token: 't' });
    advance(STREAM_TICKET_TTL_MS - 1);
    expect(await tickets.redeem(early.ticket)).toEqual({ ok: true, params: { token: 't' } });
    advance(1);
    expect(await tickets.redeem(late.ticket)).toEqual({ ok: false, reason: 'unknown' });
    expect(await tickets.redeem('A'.repeat(43))).toEqual({ ok: false, reason: 'unknown' });
    expect(await tickets.redeem('not a ticket')).toEqual({ ok: false, reason: 'unknown' });
  });

  it('makes random tickets that say nothing of the credentials', async () => {
    const { tickets } = ticketsAt();
    const issued = await Promise.all(Array.from({ length: 50 }, () => tickets.issue({ token: 'same-token' })));
    const ids = issued.map(({ ticket }) => ticket);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(id, 'base64url').toString('latin1')).not.toContain('same-token');
    }
  });
});
