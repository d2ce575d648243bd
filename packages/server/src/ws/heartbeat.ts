/** What the heartbeat needs from a connection: when it last heard from the peer, and two actions. */
export interface HeartbeatPeer {
  /** When any frame last arrived (ms). */
  lastSeenAt: number;
  /** When a ping went out unanswered, or 0. */
  pingSentAt: number;
  /** When the peer's credentials stop being trusted (ms), or 0 when they do not expire. */
  trustedUntil: number;
  /** The monitor's own bookkeeping: the slot of its wheel the peer sits in, or -1 outside any. */
  heartbeatSlot: number;
  /** Sends a WebSocket ping, which the peer's WebSocket answers by itself with a pong. */
  ping(): void;
  /** Drops the connection without a close handshake: the peer is presumed gone. */
  terminate(): void;
  /** Ends the connection because its credentials expired. */
  expire(): void;
}

export interface HeartbeatSettings {
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly now?: () => number;
}

/**
 * Most slots of the wheel: at most this many ticks per sweep. Fewer, longer
 * ticks let the answers to one tick's pings share event-loop turns, which
 * costs less CPU per idle connection; more keep each tick short (a tick
 * pings about 1/slots of the quiet sockets). bench/results.md, section 9.
 */
const MAX_SLOTS = 32;
/** Shortest time between two ticks. */
const MIN_TICK_MS = 10;

/**
 * One timer for every connection of a server, its work spread over time: the
 * peers sit in the slots of a wheel (dealt in turn as they arrive, so a burst
 * of connections lands in every slot), and each tick visits one slot, so a
 * peer is visited once per sweep (`sweepMs`, about the shorter of the two
 * intervals) and a tick handles 1/slots of the peers. A visit
 *  - ends a peer whose credentials expired,
 *  - terminates a peer whose ping went unanswered for `pongTimeoutMs`,
 *  - pings a peer quiet for `pingIntervalMs` (a peer that sent anything,
 *    a `PING` of its own included, within the interval is not pinged).
 *
 * A ping is a WebSocket ping control frame, not tRPC's text `PING`: the
 * peer's WebSocket (a browser's included) answers it without waking the
 * app, and a server pinging with it costs what a bare `ws` server pinging
 * with `ws.ping()` costs (bench/results.md, section 9).
 *
 * Since a peer's pings happen at its own slot's visits, the peers' pings
 * stay spread over the sweep instead of falling due in one tick together.
 *
 * The ticks keep to a grid (`tickMs` apart from the first; a late tick does
 * not push the later ones back, and after a held loop the missed ticks run
 * one per timer until the wheel is back on time), and a visit judges its
 * peers at the grid time of its tick rather than whenever the timer fired. A slot's visits are
 * then exactly `sweepMs` apart on the clock the decisions read, so a peer
 * that only answers pings is pinged at the same visit of every round (for
 * the defaults, every third sweep: its answer came just after the visit that
 * pinged it), not a sweep earlier whenever the timers ran late by more than
 * the answer took; and the termination falls exactly `pongTimeoutMs` after
 * the ping on that clock.
 *
 * Bounds: a silent peer is pinged at most `pingIntervalMs + sweepMs` after
 * its last frame and terminated at most `pongTimeoutMs + sweepMs` after the
 * ping, and exactly `pongTimeoutMs` after it when the sweep divides
 * `pongTimeoutMs` (it is `pongTimeoutMs` itself for the defaults and for any
 * round figure no longer than `pingIntervalMs`; `wheelOf`).
 * Credentials are ended at most `sweepMs` late.
 */
export class HeartbeatMonitor {
  private readonly slots: Set<HeartbeatPeer>[];
  /** The slot the next tick visits. */
  private cursor = 0;
  /** The slot the next added peer goes to. */
  private dealt = 0;
  private peerCount = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The grid time of the next tick. */
  private dueAt = 0;
  private readonly now: () => number;
  /** Time between ticks; each tick visits one slot. */
  readonly tickMs: number;

  constructor(private readonly settings: HeartbeatSettings) {
    this.now = settings.now ?? Date.now;
    const { tickMs, slotCount } = wheelOf(Math.min(settings.pingIntervalMs, settings.pongTimeoutMs));
    this.tickMs = tickMs;
    this.slots = Array.from({ length: slotCount }, () => new Set<HeartbeatPeer>());
  }

  /** Time between two visits of one peer: at most the shorter interval. */
  get sweepMs(): number {
    return this.slots.length * this.tickMs;
  }

  get size(): number {
    return this.peerCount;
  }

  add(peer: HeartbeatPeer): void {
    if (peer.heartbeatSlot >= 0) return;
    const slot = this.dealt;
    this.dealt = (slot + 1) % this.slots.length;
    this.slots[slot]!.add(peer);
    peer.heartbeatSlot = slot;
    this.peerCount++;
    if (!this.timer) {
      this.dueAt = this.now() + this.tickMs;
      this.schedule(this.tickMs);
    }
  }

  delete(peer: HeartbeatPeer): void {
    const slot = peer.heartbeatSlot;
    if (slot < 0 || !this.slots[slot]?.delete(peer)) return;
    peer.heartbeatSlot = -1;
    this.peerCount--;
    if (this.peerCount === 0) this.stop();
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(this.onTimer, delayMs);
    this.timer.unref();
  }

  private readonly onTimer = (): void => {
    const now = this.now();
    if (now < this.dueAt && this.dueAt - now <= this.tickMs) {
      // Early by the clock the decisions read (timers run on the loop's cached time): wait for the grid time.
      this.schedule(this.dueAt - now);
      return;
    }
    // Behind by a whole sweep (the loop was held that long, or the clock jumped), or a clock that went back:
    // the grid starts again from now. Behind by less, the visits missed run next, one per timer, at their grid times.
    if (now - this.dueAt >= this.sweepMs || now < this.dueAt) this.dueAt = now;
    this.tick(this.dueAt, now);
    this.dueAt += this.tickMs;
    // Unless the visit removed the last peer (stop() cleared the timer).
    if (this.timer) this.schedule(Math.max(0, this.dueAt - now));
  };

  /**
   * Visits the next slot's peers: pings and terminations are judged at `at`
   * (the tick's grid time, never later than `now`), credentials at `now`.
   */
  tick(at = this.now(), now = at): void {
    const slot = this.slots[this.cursor]!;
    this.cursor = (this.cursor + 1) % this.slots.length;
    const { pingIntervalMs, pongTimeoutMs } = this.settings;
    for (const peer of slot) {
      if (peer.trustedUntil !== 0 && now >= peer.trustedUntil) {
        this.delete(peer);
        peer.expire();
      } else if (peer.pingSentAt !== 0) {
        if (at - peer.pingSentAt >= pongTimeoutMs) {
          this.delete(peer);
          peer.terminate();
        }
      } else if (at - peer.lastSeenAt >= pingIntervalMs) {
        peer.pingSentAt = at;
        peer.ping();
      }
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * The wheel for a sweep of `sweepMs`: as many slots as fit (up to
 * MAX_SLOTS, ticks no shorter than MIN_TICK_MS), preferring a count that
 * divides the sweep exactly, so a peer's visits fall exactly `sweepMs` apart.
 */
export function wheelOf(sweepMs: number): { tickMs: number; slotCount: number } {
  for (let slotCount = MAX_SLOTS; slotCount >= MAX_SLOTS / 4; slotCount--) {
    if (sweepMs % slotCount === 0 && sweepMs / slotCount >= MIN_TICK_MS) return { tickMs: sweepMs / slotCount, slotCount };
  }
  const tickMs = Math.max(MIN_TICK_MS, Math.ceil(sweepMs / MAX_SLOTS));
  return { tickMs, slotCount: Math.max(1, Math.floor(sweepMs / tickMs)) };
}
