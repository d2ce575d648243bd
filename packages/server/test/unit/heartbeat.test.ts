import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatMonitor, type HeartbeatPeer } from '../../src/ws/heartbeat.js';

const settings = { pingIntervalMs: 1_000, pongTimeoutMs: 400 } as const;
/** A quarter of the shorter interval. */
const TICK_MS = 100;

/** A peer as a connection is one: the two timestamps, and what the monitor asked of it. */
class Peer implements HeartbeatPeer {
  lastSeenAt = Date.now();
  pingSentAt = 0;
  trustedUntil = 0;
  pings = 0;
  terminations = 0;
  expirations = 0;
  ping(): void {
    this.pings++;
  }
  terminate(): void {
    this.terminations++;
  }
  expire(): void {
    this.expirations++;
  }
  /** A frame arrived (a PONG, or any other traffic): what the connection records. */
  heard(): void {
    this.lastSeenAt = Date.now();
    this.pingSentAt = 0;
  }
}

describe('HeartbeatMonitor', () => {
  let monitor: HeartbeatMonitor;
  beforeEach(() => {
    vi.useFakeTimers();
    monitor = new HeartbeatMonitor({ ...settings, now: () => Date.now() });
  });
  afterEach(() => {
    monitor.stop();
    vi.useRealTimers();
  });

  it('ticks every quarter of the shorter interval, and never faster than every 10 ms', () => {
    expect(monitor.tickMs).toBe(TICK_MS);
    expect(new HeartbeatMonitor({ pingIntervalMs: 20, pongTimeoutMs: 30 }).tickMs).toBe(10);
  });

  it('pings a peer once it has been quiet for pingIntervalMs, and only once while the ping is unanswered', () => {
    const peer = new Peer();
    monitor.add(peer);
    vi.advanceTimersByTime(settings.pingIntervalMs - TICK_MS);
    expect(peer.pings).toBe(0);
    vi.advanceTimersByTime(TICK_MS);
    expect(peer.pings).toBe(1);
    expect(peer.pingSentAt).toBe(Date.now());
    vi.advanceTimersByTime(settings.pongTimeoutMs - TICK_MS);
    expect(peer.pings).toBe(1);
    expect(peer.terminations).toBe(0);
  });

  it('terminates a peer whose ping went unanswered for pongTimeoutMs, and forgets it', () => {
    const peer = new Peer();
    monitor.add(peer);
    vi.advanceTimersByTime(settings.pingIntervalMs);
    expect(peer.pings).toBe(1);
    vi.advanceTimersByTime(settings.pongTimeoutMs - TICK_MS);
    expect(peer.terminations).toBe(0);
    vi.advanceTimersByTime(TICK_MS);
    expect(peer.terminations).toBe(1);
    // Forgotten: no more pings or terminations, however long it stays quiet.
    vi.advanceTimersByTime(10 * settings.pingIntervalMs);
    expect(peer).toMatchObject({ pings: 1, terminations: 1 });
  });

  it('keeps a peer that answers its ping, and pings it again after the next quiet interval', () => {
    const peer = new Peer();
    monitor.add(peer);
    vi.advanceTimersByTime(settings.pingIntervalMs);
    vi.advanceTimersByTime(settings.pongTimeoutMs / 2);
    peer.heard(); // the PONG
    vi.advanceTimersByTime(settings.pingIntervalMs - TICK_MS);
    expect(peer).toMatchObject({ pings: 1, terminations: 0 });
    vi.advanceTimersByTime(TICK_MS);
    expect(peer).toMatchObject({ pings: 2, terminations: 0 });
  });

  it('counts any traffic as life: a peer heard from within every interval is never pinged', () => {
    const peer = new Peer();
    monitor.add(peer);
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(settings.pingIntervalMs / 2);
      peer.heard();
    }
    expect(peer).toMatchObject({ pings: 0, terminations: 0 });
  });

  it('checks each peer on its own clock', () => {
    const early = new Peer();
    monitor.add(early);
    vi.advanceTimersByTime(settings.pingIntervalMs / 2);
    const late = new Peer();
    monitor.add(late);
    vi.advanceTimersByTime(settings.pingIntervalMs / 2);
    expect([early.pings, late.pings]).toEqual([1, 0]);
    vi.advanceTimersByTime(settings.pingIntervalMs / 2);
    expect([early.pings, late.pings]).toEqual([1, 1]);
    expect([early.terminations, late.terminations]).toEqual([1, 0]);
  });

  it('ends a peer whose credentials expired at the first tick past trustedUntil, even one that keeps talking, and forgets it', () => {
    const expiring = new Peer();
    const lasting = new Peer();
    expiring.trustedUntil = Date.now() + 250;
    monitor.add(expiring);
    monitor.add(lasting);
    vi.advanceTimersByTime(2 * TICK_MS);
    expiring.heard();
    expect(expiring.expirations).toBe(0);
    vi.advanceTimersByTime(TICK_MS);
    expect(expiring.expirations).toBe(1);
    vi.advanceTimersByTime(10 * TICK_MS);
    expect([expiring.expirations, lasting.expirations]).toEqual([1, 0]);
    expect(expiring.terminations).toBe(0);
  });

  it('runs one timer while it has peers, none without, and none after stop()', () => {
    expect(vi.getTimerCount()).toBe(0);
    const a = new Peer();
    const b = new Peer();
    monitor.add(a);
    monitor.add(b);
    expect(vi.getTimerCount()).toBe(1);
    monitor.delete(a);
    expect(vi.getTimerCount()).toBe(1);
    monitor.delete(b);
    expect(vi.getTimerCount()).toBe(0);

    // A deleted peer is not checked any more.
    vi.advanceTimersByTime(10 * settings.pingIntervalMs);
    expect([a.pings, b.pings]).toEqual([0, 0]);

    const c = new Peer();
    monitor.add(c);
    expect(vi.getTimerCount()).toBe(1);
    monitor.stop();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10 * settings.pingIntervalMs);
    expect(c.pings).toBe(0);
  });

  it('reads the time from `now` when it ticks', () => {
    let clock = 0;
    const manual = new HeartbeatMonitor({ ...settings, now: () => clock });
    const peer = new Peer();
    peer.lastSeenAt = 0;
    manual.add(peer);
    vi.advanceTimersByTime(5 * settings.pingIntervalMs); // the timer fires, the clock stands still
    expect(peer.pings).toBe(0);
    clock = settings.pingIntervalMs;
    vi.advanceTimersByTime(TICK_MS);
    expect(peer.pings).toBe(1);
    manual.stop();
  });
});
