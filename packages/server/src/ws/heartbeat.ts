/** What the heartbeat needs from a connection: when it last heard from the peer, and two actions. */
export interface HeartbeatPeer {
  /** When any frame last arrived (ms). */
  lastSeenAt: number;
  /** When a `PING` went out unanswered, or 0. */
  pingSentAt: number;
  /** When the peer's credentials stop being trusted (ms), or 0 when they do not expire. */
  trustedUntil: number;
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
 * One timer for every connection of a server, instead of two per socket reset
 * on every frame: each tick pings peers quiet for `pingIntervalMs`,
 * terminates those whose ping went unanswered for `pongTimeoutMs`, and ends
 * those whose credentials expired. The tick is a quarter of the shorter
 * interval, so detection is late by at most that.
 */
export class HeartbeatMonitor {
  private readonly peers = new Set<HeartbeatPeer>();
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly settings: HeartbeatSettings) {
    this.now = settings.now ?? Date.now;
  }

  get tickMs(): number {
    return Math.max(10, Math.floor(Math.min(this.settings.pingIntervalMs, this.settings.pongTimeoutMs) / 4));
  }

  add(peer: HeartbeatPeer): void {
    this.peers.add(peer);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
  }

  delete(peer: HeartbeatPeer): void {
    this.peers.delete(peer);
    if (this.peers.size === 0) this.stop();
  }

  tick(now = this.now()): void {
    for (const peer of this.peers) {
      if (peer.trustedUntil !== 0 && now >= peer.trustedUntil) {
        this.peers.delete(peer);
        peer.expire();
      } else if (peer.pingSentAt !== 0) {
        if (now - peer.pingSentAt >= this.settings.pongTimeoutMs) {
          this.peers.delete(peer);
          peer.terminate();
        }
      } else if (now - peer.lastSeenAt >= this.settings.pingIntervalMs) {
        peer.pingSentAt = now;
        peer.ping();
      }
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
