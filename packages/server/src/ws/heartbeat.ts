/** What the heartbeat needs from a connection: a place for its index, and three actions. */
export interface HeartbeatPeer {
  /** The monitor's own bookkeeping: the peer's row in its tables, or -1 when it holds none. */
  heartbeatIndex: number;
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
/** Rows the tables start with; they double as peers arrive. */
const INITIAL_ROWS = 256;

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
 * What a visit reads lives in the monitor, not in the connections: each peer
 * has a row (`heartbeatIndex`) in three typed arrays (when it was last heard
 * from, when its unanswered ping went out, until when it is trusted), and its
 * slot is its row modulo the slot count, so a tick reads every slot-count-th
 * number of arrays that stay in cache and touches a connection only to ping,
 * terminate or end it. Most visits find nothing to do, and learning that by
 * reaching each connection object, scattered over a large heap, was most of
 * what the wheel cost an idle server. A connection reports its frames with
 * `heard` and its credentials with `trust`. Rows are reused: a peer takes a
 * free row of the slot it is dealt, else a new one at the end; a free row
 * reads as never pinged, never expiring and seen at +Infinity, so no visit
 * acts on it. The tables never shrink while the monitor has peers (a tick
 * then skips the free rows of its slot, a number read each), and start over
 * once it has none.
 *
 * A ping is a WebSocket ping control frame, not tRPC's text `PING`: the
 * peer's WebSocket (a browser's included) answers it without waking the
 * app: the exchange a bare `ws` server pinging with `ws.ping()` makes
 * (bench/results.md, section 9, compares their cost).
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
  private readonly slotCount: number;
  /** The peer of each row, or undefined for a free row. */
  private peers: (HeartbeatPeer | undefined)[] = [];
  /** When each row's peer was last heard from (ms); +Infinity for a free row, which no visit then acts on. */
  private seenAt = new Float64Array(INITIAL_ROWS).fill(Infinity);
  /** When each row's unanswered ping went out (ms), or 0. */
  private pingSentAt = new Float64Array(INITIAL_ROWS);
  /** Until when each row's peer is trusted (ms), or 0 when its credentials do not expire. */
  private trustedUntil = new Float64Array(INITIAL_ROWS);
  /** Rows in use or freed: the tick visits rows below it. */
  private rows = 0;
  /** The free rows below `rows`, by slot. */
  private readonly freeRows: number[][];
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
    this.slotCount = slotCount;
    this.freeRows = Array.from({ length: slotCount }, () => []);
  }

  /** Time between two visits of one peer: at most the shorter interval. */
  get sweepMs(): number {
    return this.slotCount * this.tickMs;
  }

  get size(): number {
    return this.peerCount;
  }

  /** Starts watching `peer`, heard from now, its credentials not expiring until `trust` says otherwise. */
  add(peer: HeartbeatPeer): void {
    if (peer.heartbeatIndex >= 0) return;
    const slot = this.dealt;
    this.dealt = (slot + 1) % this.slotCount;
    const row = this.freeRows[slot]!.pop() ?? this.newRow(slot);
    const now = this.now();
    // A free row's ping and expiry are already 0 (`delete`, or never used).
    this.peers[row] = peer;
    this.seenAt[row] = now;
    peer.heartbeatIndex = row;
    this.peerCount++;
    if (!this.timer) {
      this.dueAt = now + this.tickMs;
      this.schedule(this.tickMs);
    }
  }

  delete(peer: HeartbeatPeer): void {
    const row = peer.heartbeatIndex;
    if (row < 0 || this.peers[row] !== peer) return;
    peer.heartbeatIndex = -1;
    this.peers[row] = undefined;
    this.seenAt[row] = Infinity;
    this.pingSentAt[row] = 0;
    this.trustedUntil[row] = 0;
    this.peerCount--;
    if (this.peerCount === 0) {
      this.stop();
      this.rows = 0;
      this.peers.length = 0;
      for (const free of this.freeRows) free.length = 0;
    } else {
      this.freeRows[row % this.slotCount]!.push(row);
    }
  }

  /** A frame (or the pong to a ping) arrived from `peer`: it is alive, and owes no answer. */
  heard(peer: HeartbeatPeer): void {
    const row = peer.heartbeatIndex;
    if (row < 0) return;
    this.seenAt[row] = this.now();
    this.pingSentAt[row] = 0;
  }

  /** `peer`'s credentials now stop being trusted at `until` (ms), or never when 0. */
  trust(peer: HeartbeatPeer, until: number): void {
    const row = peer.heartbeatIndex;
    if (row >= 0) this.trustedUntil[row] = until;
  }

  /** When `peer`'s unanswered ping went out (ms), or 0: none is, or the monitor does not hold the peer. */
  pingSentAtOf(peer: HeartbeatPeer): number {
    const row = peer.heartbeatIndex;
    return row < 0 ? 0 : this.pingSentAt[row]!;
  }

  /** The first unused row of `slot` (a row's slot is the row modulo the slot count); the rows it passes over are freed. */
  private newRow(slot: number): number {
    let row = this.rows;
    for (; row % this.slotCount !== slot; row++) this.freeRows[row % this.slotCount]!.push(row);
    this.rows = row + 1;
    if (this.rows > this.seenAt.length) this.grow();
    return row;
  }

  private grow(): void {
    const size = this.seenAt.length * 2;
    const seenAt = new Float64Array(size).fill(Infinity);
    seenAt.set(this.seenAt);
    const pingSentAt = new Float64Array(size);
    pingSentAt.set(this.pingSentAt);
    const trustedUntil = new Float64Array(size);
    trustedUntil.set(this.trustedUntil);
    this.seenAt = seenAt;
    this.pingSentAt = pingSentAt;
    this.trustedUntil = trustedUntil;
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
   * A peer's own actions may close it (and free its row) during the visit;
   * the tables are read afresh for each row.
   */
  tick(at = this.now(), now = at): void {
    const { slotCount } = this;
    const first = this.cursor;
    this.cursor = (first + 1) % slotCount;
    const { pingIntervalMs, pongTimeoutMs } = this.settings;
    for (let row = first; row < this.rows; row += slotCount) {
      const until = this.trustedUntil[row]!;
      if (until !== 0 && now >= until) {
        const peer = this.peers[row]!;
        this.delete(peer);
        peer.expire();
        continue;
      }
      const sentAt = this.pingSentAt[row]!;
      if (sentAt !== 0) {
        if (at - sentAt >= pongTimeoutMs) {
          const peer = this.peers[row]!;
          this.delete(peer);
          peer.terminate();
        }
      } else if (at - this.seenAt[row]! >= pingIntervalMs) {
        this.pingSentAt[row] = at;
        this.peers[row]!.ping();
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
