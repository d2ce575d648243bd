import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CredentialRefresh, refreshDelayMs, type CredentialsNotice } from '../../src/connection/credentialRefresh.js';
import type { ConnectionParams, OutgoingCall, Session } from '../../src/sessions/session.js';

/** The refresh's side of a session: the credentials it was handed. */
class RecordingSession implements Session {
  readonly transport = 'websocket' as const;
  readonly url = 'ws://a';
  isReady = true;
  readonly refreshed: ConnectionParams[] = [];
  startCall(_call: OutgoingCall): boolean {
    return true;
  }
  stopCall(): void {}
  refreshCredentials(params: ConnectionParams): void {
    this.refreshed.push(params);
  }
  close(): void {
    this.isReady = false;
  }
}

/** What a session reports of the server's session notice (decoded from the wire in frames.ts). */
const notice = (expiresInMs: number | null, refused?: { heraldCode: 'UNAUTHORIZED'; message: string }): CredentialsNotice => ({
  expiresInMs,
  refused: refused ?? null,
});

describe('refreshDelayMs', () => {
  it('refreshes a quarter of the time early, at most a minute early', () => {
    expect(refreshDelayMs(4_000)).toBe(3_000);
    expect(refreshDelayMs(15 * 60_000)).toBe(14 * 60_000);
    expect(refreshDelayMs(0)).toBe(0);
    expect(refreshDelayMs(-5)).toBe(0);
  });
});

describe('CredentialRefresh', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('asks connectionParams again ahead of the expiry the server told, and sends the result on the session', async () => {
    let issued = 0;
    const errors: unknown[] = [];
    const refresh = new CredentialRefresh(() => ({ token: `t${++issued}` }), (error) => errors.push(error));
    const session = new RecordingSession();
    refresh.onNotice(session, notice(4_000));
    await vi.advanceTimersByTimeAsync(2_999);
    expect(session.refreshed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(session.refreshed).toEqual([{ token: 't1' }]);
    expect(errors).toEqual([]);
  });

  it('plans nothing for credentials that do not expire, static connectionParams, or a session that ended', async () => {
    const session = new RecordingSession();
    new CredentialRefresh(() => ({ token: 'x' }), () => undefined).onNotice(session, notice(null));
    new CredentialRefresh({ token: 'static' }, () => undefined).onNotice(session, notice(1_000));
    const ended = new RecordingSession();
    new CredentialRefresh(() => ({ token: 'x' }), () => undefined).onNotice(ended, notice(1_000));
    ended.close();
    await vi.advanceTimersByTimeAsync(10_000);
    expect([session.refreshed, ended.refreshed]).toEqual([[], []]);
  });

  it('reports a refused refresh and a throwing connectionParams as typed errors; clear() cancels the plan', async () => {
    const errors: { data?: { heraldCode?: unknown } }[] = [];
    const refresh = new CredentialRefresh(
      () => {
        throw new Error('offline');
      },
      (error) => errors.push(error as never),
    );
    const session = new RecordingSession();
    refresh.onNotice(session, notice(500, { heraldCode: 'UNAUTHORIZED', message: 'token revoked' }));
    refresh.onNotice(session, notice(400));
    await vi.advanceTimersByTimeAsync(400);
    expect(errors.map((error) => error.data?.heraldCode)).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED']);
    refresh.onNotice(session, notice(400));
    refresh.clear();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toHaveLength(2);
  });
});
