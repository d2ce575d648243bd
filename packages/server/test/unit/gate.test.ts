import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { withExpiry } from '../../src/auth/identity.js';
import type { AdmissionOutcome } from '../../src/transport/gate.js';
import { gate } from '../helpers/gate.js';

/** A request as far as the gate reads one: its headers. */
const req = (headers: Record<string, string> = {}) => ({ headers }) as unknown as IncomingMessage;

async function decided(outcome: AdmissionOutcome | Promise<AdmissionOutcome>): Promise<AdmissionOutcome> {
  return outcome;
}

describe('RequestGate', () => {
  it('checks drain, then origin, then the failed-authentication budget, the same for every door', () => {
    let draining = true;
    const { gate: g, refusals } = gate({ isDraining: () => draining, originAllowed: (origin) => origin === 'https://app.example' });
    expect(g.enter(req({ origin: 'https://evil.example' }), 'a')?.reason).toBe('draining');
    draining = false;
    expect(g.enter(req({ origin: 'https://evil.example' }), 'a')?.error.message).toMatch(/add it to the server's allowedOrigins/);
    expect(g.enter(req({ origin: 'https://app.example' }), 'a')).toBeNull();
    expect(g.enter(req(), 'a')).toBeNull();
    g.countFailure('a');
    g.countFailure('a');
    expect(g.enter(req(), 'a')?.reason).toBe('auth_failures');
    expect(g.enter(req(), 'b')).toBeNull();
    expect(refusals()).toEqual({ draining: 1, origin: 1, auth_failures: 1 });
  });

  it('counts connections in total, per address and per user, across whatever holds them', async () => {
    const { gate: g } = gate({ authenticate: (params) => params?.['user'] ?? null, maxConnections: 4 });
    for (let n = 0; n < 3; n++) expect(g.openConnection('a')).toBeNull();
    expect(g.openConnection('a')?.reason).toBe('max_connections_per_ip');
    expect(g.openConnection('b')).toBeNull();
    expect(g.openConnection('c')?.reason).toBe('max_connections');
    g.closeConnection('a');
    expect(g.openConnection('c')).toBeNull();
    expect(g.connectionCount).toBe(4);

    // Per user: the key `authenticate` gives, whatever else the params carry.
    const first = await decided(g.admit({ user: 'ann' }, req(), 'a', true, 'conn-1'));
    const second = await decided(g.admit({ user: 'ann', junk: 'x' }, req(), 'b', true, 'conn-1'));
    const third = await decided(g.admit({ user: 'ann', junk: 'y' }, req(), 'c', true, 'conn-1'));
    expect([first.ok, second.ok, third.ok]).toEqual([true, true, false]);
    expect(!third.ok && third.refusal?.reason).toBe('max_connections_per_user');
    // A call that holds no connection (an HTTP request) takes no user slot.
    expect((await decided(g.admit({ user: 'ann' }, req(), 'a', false, 'conn-1'))).ok).toBe(true);
    if (first.ok) g.release(first);
    expect((await decided(g.admit({ user: 'ann' }, req(), 'a', true, 'conn-1'))).ok).toBe(true);
  });

  it('admits at once, without a promise, when neither authenticate nor createContext returns one', () => {
    const { gate: g } = gate({ createContext: ({ user }) => ({ user }) });
    const outcome = g.admit(null, req(), 'a', true, 'conn-1');
    expect(outcome).not.toBeInstanceOf(Promise);
    expect(outcome).toMatchObject({ ok: true, userKey: null, ctx: { user: null }, trustedUntil: 0 });
  });

  it('refuses credentials that expired, counts refused ones against the address, and tells a failing createContext apart', async () => {
    const clock = { now: 1_000_000 };
    let expiresAt = clock.now + 5_000;
    const { gate: g, refusals } = gate(
      {
        authenticate: (params) => {
          if (params?.['token'] !== 'good') throw new TRPCError({ code: 'UNAUTHORIZED', message: 'bad token' });
          return withExpiry('ann', expiresAt);
        },
        createContext: ({ connectionParams }) => {
          if (connectionParams?.['boom']) throw new Error('database down');
          return {};
        },
      },
      clock,
    );
    expect(await decided(g.admit({ token: 'good' }, req(), 'a', true, 'conn-1'))).toMatchObject({ ok: true, trustedUntil: expiresAt + 1_000 });
    expiresAt = clock.now - 1_001;
    expect(await decided(g.admit({ token: 'good' }, req(), 'a', true, 'conn-1'))).toMatchObject({ ok: false, refusal: { reason: 'token_expired' } });
    expect(await decided(g.admit({ token: 'bad' }, req(), 'a', true, 'conn-1'))).toMatchObject({ ok: false, refusal: { reason: 'unauthorized' } });
    expect(await decided(g.admit({ token: 'bad' }, req(), 'a', true, 'conn-1'))).toMatchObject({ ok: false, refusal: { reason: 'unauthorized' } });
    expect(g.mayAuthenticate('a')).toBe(false);
    expiresAt = clock.now + 5_000;
    const failed = await decided(g.admit({ token: 'good', boom: '1' }, req(), 'b', true, 'conn-1'));
    expect(failed).toMatchObject({ ok: false, refusal: null });
    expect(refusals()).toEqual({ token_expired: 1, unauthorized: 2 });
  });

  it("takes requests from one budget per user (per address when anonymous), refilled with the clock", () => {
    const clock = { now: 1_000_000 };
    const { gate: g } = gate({}, clock);
    const ann = { userKey: 'ann', address: 'a' };
    expect(g.takeRequests(ann, 3)).toBeNull();
    expect(g.takeRequests(ann)?.reason).toBe('rate');
    // Another address of the same user shares the budget; an anonymous caller at the same address does not.
    expect(g.takeRequests({ userKey: 'ann', address: 'b' })?.reason).toBe('rate');
    expect(g.takeRequests({ userKey: null, address: 'a' })).toBeNull();
    clock.now += 100;
    expect(g.takeRequests(ann)).toBeNull();
    expect(g.takeRequests(ann)?.error.message).toMatch(/at most 10 requests per second \(bursts of 3\); retry after a pause/);
  });

  it('bounds batches and subscriptions per connection, and says when credentials are no longer trusted', () => {
    const clock = { now: 1_000_000 };
    const { gate: g } = gate({}, clock);
    expect(g.checkBatch(5)).toBeNull();
    expect(g.checkBatch(6)?.reason).toBe('max_batch_size');
    expect(g.checkPayload(1_000)).toBeNull();
    expect(g.checkPayload(1_001)?.error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(g.checkSubscriptions(3)).toBeNull();
    expect(g.checkSubscriptions(4)?.reason).toBe('max_subscriptions');
    expect(g.expired(0)).toBe(false);
    expect(g.expired(clock.now + 1)).toBe(false);
    clock.now += 1;
    expect(g.expired(clock.now)).toBe(true);
  });

  it('bounds one HTTP answer, and the answers an address holds, until they are given back', () => {
    const { gate: g, refusals } = gate();
    expect(g.checkHttpAnswer(1_000)).toBeNull();
    expect(g.checkHttpAnswer(1_001)?.error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringMatching(/smaller batches.*httpBatchStreamLink/) });
    expect(g.holdHttpAnswer('a', 1_000)).toBeNull();
    expect(g.holdHttpAnswer('b', 1_000)).toBeNull();
    expect(g.holdHttpAnswer('a', 501)?.error.message).toMatch(/read the answers asked for/);
    expect(g.beginHttpCalls('a', 1)).toBeNull();
    g.endHttpCalls('a', 1);
    expect(g.holdHttpAnswer('a', 500)).toBeNull();
    // Full: no more calls of that address start, other addresses are not concerned.
    expect(g.beginHttpCalls('a', 1)?.reason).toBe('max_http_answer_bytes_per_ip');
    expect(g.beginHttpCalls('b', 1)).toBeNull();
    g.releaseHttpAnswer('a', 1_500);
    expect(g.beginHttpCalls('a', 1)).toBeNull();
    expect(refusals()).toEqual({ max_http_answer: 1, max_http_answer_bytes_per_ip: 2 });
  });

  it('refreshes credentials only for the same user, and gives createContext the connection id it was admitted with', async () => {
    const { gate: g } = gate({
      authenticate: (params) => params?.['user'] ?? null,
      createContext: ({ connectionId, connectionParams }) => ({ connectionId, round: connectionParams?.['round'] }),
    });
    expect(await decided(g.admit({ user: 'ann', round: '1' }, req(), 'a', true, 'conn-1'))).toMatchObject({ ok: true, ctx: { connectionId: 'conn-1', round: '1' } });
    expect(await g.refresh({ user: 'ann', round: '2' }, req(), 'a', 'ann', 'conn-1')).toMatchObject({ ok: true, userKey: 'ann', ctx: { connectionId: 'conn-1', round: '2' } });
    expect(await g.refresh({ user: 'bob' }, req(), 'a', 'ann', 'conn-1')).toMatchObject({
      reason: 'refresh_refused',
      error: { message: expect.stringMatching(/must keep the connection's user/) },
    });
  });
});
