import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HeartbeatMonitor, wheelOf, type HeartbeatPeer } from '../../src/ws/heartbeat.js';

const settings = { pingIntervalMs: 1_000, pongTimeoutMs: 400 } as const;
/** The sweep is the shorter interval, cut into 25 slots of 16 ms. */
const SWEEP_MS = 400;
const TICK_MS = 16;

/** A peer as a connection is one to its monitor: what the monitor asked of it, and what it reports. */
class Peer implements HeartbeatPeer {
  heartbeatIndex = -1;
  pings = 0;
  terminations = 0;
  expirations = 0;
  /** When each ping went out, on the monitor's clock. */
  pingTimes: number[] = [];
  constructor(private readonly monitor: HeartbeatMonitor) {}
  /** When its unanswered ping went out, or 0. */
  get pingSentAt(): number {
    return this.monitor.pingSentAtOf(this);
  }
  ping(): void {
    this.pings++;
    this.pingTimes.push(this.pingSentAt);
  }
  terminate(): void {
    this.terminations++;
  }
  expire(): void {
    this.expirations++;
  }
  /** A frame arrived (a PONG, or any other traffic): what the connection reports. */
  heard(): void {
    this.monitor.heard(this);
  }
}

/** Advances the fake clock one millisecond at a time until `done`, up to `limitMs`; returns how long it took. */
function advanceUntil(done: () => boolean, limitMs: number): number {
  const start = Date.now();
  while (!done() && Date.now() - start < limitMs) vi.advanceTimersByTime(1);
  return Date.now() - start;
}

describe('wheelOf', () => {
  it('cuts the sweep into as many slots as fit (up to 32), exactly when it can, with ticks of at least 10 ms', () => {
    expect(wheelOf(5_000)).toEqual({ tickMs: 200, slotCount: 25 });
    expect(wheelOf(400)).toEqual({ tickMs: 16, slotCount: 25 });
    expect(wheelOf(200)).toEqual({ tickMs: 10, slotCount: 20 });
    expect(wheelOf(30)).toEqual({ tickMs: 10, slotCount: 3 });
    expect(wheelOf(5)).toEqual({ tickMs: 10, slotCount: 1 });
    // No exact cut: the sweep is a little shorter than asked (visits come a little early, never late).
    const odd = wheelOf(997);
    expect(odd.tickMs * odd.slotCount).toBeLessThanOrEqual(997);
    expect(odd.slotCount).toBeGreaterThan(16);
  });
});

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

  it('visits each peer once per sweep (the shorter interval), one slot per tick', () => {
    expect(monitor.tickMs).toBe(TICK_MS);
    expect(monitor.sweepMs).toBe(SWEEP_MS);
  });

  it('pings a peer quiet for pingIntervalMs at its next visit, within one sweep, and only once while the ping is unanswered', () => {
    const peer = new Peer(monitor);
    const since = Date.now();
    monitor.add(peer);
    vi.advanceTimersByTime(settings.pingIntervalMs - 1);
    expect(peer.pings).toBe(0);
    const waited = advanceUntil(() => peer.pings > 0, SWEEP_MS + TICK_MS);
    expect(peer.pings).toBe(1);
    expect(peer.pingSentAt).toBe(Date.now());
    expect(peer.pingSentAt - since).toBeLessThanOrEqual(settings.pingIntervalMs + SWEEP_MS);
    expect(waited).toBeGreaterThan(0);
    vi.advanceTimersByTime(settings.pongTimeoutMs - 1);
    expect(peer.pings).toBe(1);
    expect(peer.terminations).toBe(0);
  });

  it('terminates a peer whose ping went unanswered for pongTimeoutMs, exactly then when the sweep divides it, and forgets it', () => {
    const peer = new Peer(monitor);
    monitor.add(peer);
    advanceUntil(() => peer.pings > 0, settings.pingIntervalMs + SWEEP_MS + TICK_MS);
    vi.advanceTimersByTime(settings.pongTimeoutMs - 1);
    expect(peer.terminations).toBe(0);
    vi.advanceTimersByTime(1);
    expect(peer.terminations).toBe(1);
    expect(monitor.size).toBe(0);
    // Forgotten: no more pings or terminations, however long it stays quiet.
    vi.advanceTimersByTime(10 * settings.pingIntervalMs);
    expect(peer).toMatchObject({ pings: 1, terminations: 1 });
  });

  it('drops a silent peer within pingIntervalMs + pongTimeoutMs + one sweep of its last frame, wherever its slot is', () => {
    const peers = Array.from({ length: 100 }, () => new Peer(monitor));
    const since = Date.now();
    for (const peer of peers) monitor.add(peer);
    const took = advanceUntil(() => peers.every((peer) => peer.terminations === 1), 10 * settings.pingIntervalMs);
    expect(took).toBeLessThanOrEqual(settings.pingIntervalMs + settings.pongTimeoutMs + SWEEP_MS);
    expect(took).toBeGreaterThanOrEqual(settings.pingIntervalMs + settings.pongTimeoutMs);
    expect(Date.now() - since).toBe(took);
  });

  it('keeps a peer that answers its ping, and pings it again after the next quiet interval', () => {
    const peer = new Peer(monitor);
    monitor.add(peer);
    advanceUntil(() => peer.pings > 0, settings.pingIntervalMs + SWEEP_MS + TICK_MS);
    vi.advanceTimersByTime(settings.pongTimeoutMs / 2);
    peer.heard(); // the PONG
    const answeredAt = Date.now();
    vi.advanceTimersByTime(settings.pingIntervalMs - 1);
    expect(peer).toMatchObject({ pings: 1, terminations: 0 });
    advanceUntil(() => peer.pings > 1, SWEEP_MS + TICK_MS);
    expect(peer).toMatchObject({ pings: 2, terminations: 0 });
    expect(peer.pingTimes[1]! - answeredAt).toBeLessThanOrEqual(settings.pingIntervalMs + SWEEP_MS);
  });

  it('counts any traffic as life (a client PING included): a peer heard from within every interval is never pinged', () => {
    const peer = new Peer(monitor);
    monitor.add(peer);
    for (let i = 0; i < 20; i++) {
      vi.advanceTimersByTime(settings.pingIntervalMs - TICK_MS);
      peer.heard();
    }
    expect(peer).toMatchObject({ pings: 0, terminations: 0 });
  });

  it('spreads the pings of peers that arrived together over the sweep instead of sending them in one tick', () => {
    const slots = SWEEP_MS / TICK_MS;
    const peers = Array.from({ length: 20 * slots }, () => new Peer(monitor));
    for (const peer of peers) monitor.add(peer);
    const pingsPerTick: number[] = [];
    let before = 0;
    for (let elapsed = 0; elapsed < 3 * settings.pingIntervalMs; elapsed += TICK_MS) {
      vi.advanceTimersByTime(TICK_MS);
      for (const peer of peers) if (peer.pingSentAt !== 0 && peer.pingSentAt === Date.now()) peer.heard(); // each answers at once
      const total = peers.reduce((sum, peer) => sum + peer.pings, 0);
      pingsPerTick.push(total - before);
      before = total;
    }
    expect(before).toBeGreaterThanOrEqual(2 * peers.length); // every peer pinged, twice over
    expect(Math.max(...pingsPerTick)).toBe(peers.length / slots); // one slot's worth at a time
    expect(peers.every((peer) => peer.terminations === 0)).toBe(true);
  });

  it('gives the rows of peers that left to newcomers, which start afresh, one slot\'s worth per tick, past the tables\' first size', () => {
    const slots = SWEEP_MS / TICK_MS;
    const peers = Array.from({ length: 40 * slots }, () => new Peer(monitor));
    for (const peer of peers) monitor.add(peer);
    advanceUntil(() => peers.every((peer) => peer.pings === 1), settings.pingIntervalMs + SWEEP_MS + TICK_MS);
    // Every other peer leaves with its ping unanswered; as many newcomers take their rows.
    const leaving = peers.filter((_, i) => i % 2 === 0);
    for (const peer of leaving) monitor.delete(peer);
    const newcomers = Array.from({ length: leaving.length }, () => new Peer(monitor));
    for (const peer of newcomers) monitor.add(peer);
    expect(new Set(newcomers.map((peer) => peer.heartbeatIndex))).toEqual(new Set(leaving.map((_, i) => 2 * i)));
    expect(monitor.size).toBe(peers.length);
    // No newcomer inherits the unanswered ping of its row: none is terminated or pinged before its own interval.
    vi.advanceTimersByTime(settings.pingIntervalMs - 1);
    expect(newcomers.every((peer) => peer.pings === 0 && peer.terminations === 0)).toBe(true);
    expect(peers.every((peer, i) => peer.terminations === (i % 2 === 0 ? 0 : 1))).toBe(true);
    const pingsPerTick: number[] = [];
    let before = 0;
    for (let elapsed = 0; elapsed <= SWEEP_MS; elapsed += TICK_MS) {
      vi.advanceTimersByTime(TICK_MS);
      const total = newcomers.reduce((sum, peer) => sum + peer.pings, 0);
      pingsPerTick.push(total - before);
      before = total;
    }
    expect(before).toBe(newcomers.length);
    expect(Math.max(...pingsPerTick)).toBe(newcomers.length / slots);
  });

  it('watches exactly the peers it holds through any churn of arrivals and departures', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const held: Peer[] = [];
    const gone: Peer[] = [];
    for (let step = 0; step < 3_000; step++) {
      if (held.length === 0 || random(5) < 3) {
        const peer = new Peer(monitor);
        monitor.add(peer);
        held.push(peer);
      } else {
        const [peer] = held.splice(random(held.length), 1);
        monitor.delete(peer!);
        gone.push(peer!);
      }
      if (step % 10 === 0) vi.advanceTimersByTime(1);
      if (held.length > 0) held[random(held.length)]!.heard();
    }
    expect(held.length).toBeGreaterThan(300); // more peers than the tables first hold
    expect(monitor.size).toBe(held.length);
    expect(new Set(held.map((peer) => peer.heartbeatIndex)).size).toBe(held.length);
    expect(gone.every((peer) => peer.heartbeatIndex === -1)).toBe(true);
    const goneActions = gone.map((peer) => peer.pings + peer.terminations);
    const quietSince = Date.now();
    const took = advanceUntil(() => held.every((peer) => peer.terminations === 1), 10 * settings.pingIntervalMs);
    expect(took).toBeLessThanOrEqual(settings.pingIntervalMs + settings.pongTimeoutMs + SWEEP_MS);
    expect(held.every((peer) => peer.pings === 1)).toBe(true);
    expect(gone.map((peer) => peer.pings + peer.terminations)).toEqual(goneActions);
    expect(Date.now() - quietSince).toBe(took);
    expect(monitor.size).toBe(0);
  });

  describe('with timers that fire late (a clock ahead of the timers, by up to 8 ms more or less every millisecond, and drifting)', () => {
    /** pingIntervalMs a whole number of sweeps: the case where a late timer used to tip the decision. */
    const even = { pingIntervalMs: 800, pongTimeoutMs: 400 } as const;
    let late = 0;
    /** How far the clock jumped ahead of the timers at once (a held loop), on top of the lateness. */
    let held = 0;
    const clock = () => Date.now() + late;
    let jittery: HeartbeatMonitor;
    beforeEach(() => {
      late = 0;
      held = 0;
      jittery = new HeartbeatMonitor({ ...even, now: clock });
    });
    afterEach(() => jittery.stop());
    /** Advances `ms` fake milliseconds, the lateness changing every millisecond (0 to 8 ms, plus `drift` ms per second); `each` runs after every step. */
    function run(ms: number, each: () => void, drift = 0): void {
      for (let t = 0; t < ms; t++) {
        late = ((t * 7_919) % 9) + Math.floor((t * drift) / 1_000) + held;
        vi.advanceTimersByTime(1);
        each();
      }
    }

    it('pings a peer that answers every ping at the same visit of every round (3 sweeps apart), never a sweep early, though timers drift', () => {
      const peers = Array.from({ length: 50 }, () => new Peer(jittery));
      for (const peer of peers) jittery.add(peer);
      const sentAt = new Map<Peer, number[]>(peers.map((peer) => [peer, []]));
      run(20 * even.pingIntervalMs, () => {
        for (const peer of peers) {
          // Each answers 1 ms after its ping, on the monitor's clock.
          if (peer.pingSentAt !== 0 && clock() - peer.pingSentAt >= 1) {
            sentAt.get(peer)!.push(peer.pingSentAt);
            peer.heard();
          }
        }
      }, 20); // 2%: each tick fires a little later than the one before would have it
      const gaps = [...sentAt.values()].flatMap((times) => times.slice(1).map((at, i) => at - times[i]!));
      expect(gaps.length).toBeGreaterThan(peers.length * 10);
      expect(Math.min(...gaps)).toBeGreaterThan(2 * SWEEP_MS + TICK_MS);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(3 * SWEEP_MS + TICK_MS);
      expect(peers.every((peer) => peer.terminations === 0)).toBe(true);
    });

    it('keeps to its grid when the loop was held (a tick late by several ticks): the visits it missed run next, at their grid times', () => {
      const peers = Array.from({ length: 50 }, () => new Peer(jittery));
      for (const peer of peers) jittery.add(peer);
      const sentAt = new Map<Peer, number[]>(peers.map((peer) => [peer, []]));
      run(20 * even.pingIntervalMs, () => {
        // Every 5 s the clock jumps 5 ticks ahead of the timers, as if the loop had been held that long.
        if (Date.now() % 5_000 === 2_500) held += 5 * TICK_MS;
        for (const peer of peers) {
          if (peer.pingSentAt !== 0 && clock() - peer.pingSentAt >= 1) {
            sentAt.get(peer)!.push(peer.pingSentAt);
            peer.heard();
          }
        }
      });
      expect(held).toBeGreaterThan(0);
      const gaps = [...sentAt.values()].flatMap((times) => times.slice(1).map((at, i) => at - times[i]!));
      expect(gaps.length).toBeGreaterThan(peers.length * 10);
      expect(Math.min(...gaps)).toBe(3 * SWEEP_MS);
      expect(Math.max(...gaps)).toBe(3 * SWEEP_MS);
    });

    it('still drops a silent peer within pingIntervalMs + pongTimeoutMs + one sweep of its last frame (plus the lateness)', () => {
      const peers = Array.from({ length: 100 }, () => new Peer(jittery));
      const since = clock();
      for (const peer of peers) jittery.add(peer);
      const droppedAt = new Map<Peer, number>();
      run(5 * even.pingIntervalMs, () => {
        for (const peer of peers) if (peer.terminations > 0 && !droppedAt.has(peer)) droppedAt.set(peer, clock());
      });
      expect(droppedAt.size).toBe(peers.length);
      for (const at of droppedAt.values()) {
        expect(at - since).toBeLessThanOrEqual(even.pingIntervalMs + even.pongTimeoutMs + SWEEP_MS + 8);
        expect(at - since).toBeGreaterThanOrEqual(even.pingIntervalMs + even.pongTimeoutMs);
      }
      // Terminated pongTimeoutMs after its ping on the monitor's clock, to the millisecond of lateness.
      for (const peer of peers) expect(droppedAt.get(peer)! - peer.pingTimes[0]! - even.pongTimeoutMs).toBeLessThanOrEqual(8);
    });
  });

  it('ends a peer whose credentials expired at its first visit past trustedUntil, even one that keeps talking, and forgets it', () => {
    const expiring = new Peer(monitor);
    const lasting = new Peer(monitor);
    const expiresAt = Date.now() + 250;
    monitor.add(expiring);
    monitor.add(lasting);
    monitor.trust(expiring, expiresAt);
    vi.advanceTimersByTime(200);
    expiring.heard();
    expect(expiring.expirations).toBe(0);
    const late = advanceUntil(() => expiring.expirations > 0, 2 * SWEEP_MS);
    expect(expiring.expirations).toBe(1);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
    expect(Date.now() - expiresAt).toBeLessThan(SWEEP_MS);
    expect(late).toBeGreaterThan(0);
    vi.advanceTimersByTime(10 * SWEEP_MS);
    expect([expiring.expirations, lasting.expirations]).toEqual([1, 0]);
    expect(expiring.terminations).toBe(0);
  });

  it('runs one timer while it has peers, none without, and none after stop()', () => {
    expect(vi.getTimerCount()).toBe(0);
    const a = new Peer(monitor);
    const b = new Peer(monitor);
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

    const c = new Peer(monitor);
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
    const peer = new Peer(manual);
    manual.add(peer);
    vi.advanceTimersByTime(5 * settings.pingIntervalMs); // the timer fires, the clock stands still
    expect(peer.pings).toBe(0);
    clock = settings.pingIntervalMs;
    vi.advanceTimersByTime(SWEEP_MS);
    expect(peer.pings).toBe(1);
    manual.stop();
  });

  it('adds a peer once, and deleting one it does not hold changes nothing', () => {
    const peer = new Peer(monitor);
    monitor.add(peer);
    monitor.add(peer);
    expect(monitor.size).toBe(1);
    monitor.delete(new Peer(monitor));
    expect(monitor.size).toBe(1);
    monitor.delete(peer);
    monitor.delete(peer);
    expect([monitor.size, peer.heartbeatIndex]).toEqual([0, -1]);
  });
});
