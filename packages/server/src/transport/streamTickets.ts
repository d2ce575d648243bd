import { randomBytes } from 'node:crypto';
import type { IdempotencyStore } from '../brokers/idempotency.js';
import { stringParams, type ConnectionParams } from './admission.js';

/**
 * How long a stream ticket can be redeemed after it was issued. A client
 * redeems its ticket at once (it asks for one right before it opens the
 * stream), so the bound only has to cover a slow round trip; a URL that a
 * proxy logged is worthless once its ticket was used or this has passed.
 */
export const STREAM_TICKET_TTL_MS = 30_000;

/** 32 random bytes, base64url: what `issue` hands out, and the only form `redeem` looks up. */
const TICKET_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export interface IssuedTicket {
  readonly ticket: string;
  readonly expiresInMs: number;
}

/** A redemption: the credentials the ticket stands for, or why it was refused. */
export type TicketRedemption =
  | { readonly ok: true; readonly params: ConnectionParams }
  | { readonly ok: false; readonly reason: 'used' | 'unknown' };

/**
 * Single-use, short-lived stand-ins for credentials, for event streams whose
 * EventSource cannot send headers (the browser's own): the client exchanges
 * its credentials for a ticket over a request that carries them in headers,
 * then opens the stream with `?ticket=<ticket>` and nothing else.
 *
 * Tickets live in the broker's idempotency store, so one issued by a node
 * is redeemed on any node sharing the broker (Redis):
 *
 *     issue:  complete('ticket:<id>', params, ttl)          the record
 *     redeem: claim('ticket-used:<id>', ttl)  claimed ──▶   first use
 *                                             otherwise ──▶ 'used'
 *             claim('ticket:<id>', ttl)       done ──▶      params
 *                                             otherwise ──▶ 'unknown' (expired, or never issued)
 *
 * The `ticket-used` claim is atomic in every store (Redis `SET NX`), so two
 * requests racing with one ticket get one stream between them. The id is
 * random, never derived from the credentials. Store keys of idempotent
 * calls always contain `|`; these never do, so the two cannot meet.
 */
export class StreamTickets {
  constructor(
    private readonly store: IdempotencyStore,
    private readonly ttlMs: number = STREAM_TICKET_TTL_MS,
  ) {}

  async issue(params: ConnectionParams): Promise<IssuedTicket> {
    const ticket = randomBytes(32).toString('base64url');
    await this.store.complete(recordKey(ticket), JSON.stringify(params), this.ttlMs);
    return { ticket, expiresInMs: this.ttlMs };
  }

  async redeem(ticket: string): Promise<TicketRedemption> {
    // A string no `issue` made is not looked up: it would leave a claim in the store for nothing.
    if (!TICKET_FORMAT.test(ticket)) return { ok: false, reason: 'unknown' };
    const use = await this.store.claim(`ticket-used:${ticket}`, this.ttlMs);
    if (use.state !== 'claimed') return { ok: false, reason: 'used' };
    const record = await this.store.claim(recordKey(ticket), this.ttlMs);
    if (record.state !== 'done') return { ok: false, reason: 'unknown' };
    return { ok: true, params: stringParams(JSON.parse(record.outcome) as Record<string, string>) ?? {} };
  }
}

function recordKey(ticket: string): string {
  return `ticket:${ticket}`;
}
