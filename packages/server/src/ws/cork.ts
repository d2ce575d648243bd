/** The part of a net.Socket that batching needs. */
interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
  readonly writableCorked: number;
}

/** What batching remembers per socket: the tick it was last written in. */
export interface WriteTicks {
  lastWriteTick: number;
}

/** Counts event-loop ticks in which something was written (advanced when the tick's writes are flushed). */
let tick = 1;
let corked: Corkable[] = [];
let tickEndScheduled = false;

/**
 * Call before writing a frame to `socket`. The first frame of a tick goes
 * out at once, as a plain `ws.send` would (nothing waits, and a message
 * published once per tick costs no more than it does on raw `ws`); from the
 * second on, the socket is corked until the end of the tick, so a burst (a
 * batch's answers, a replay, messages published faster than one per tick)
 * leaves in one more TCP write instead of one per frame. One `nextTick`
 * serves every socket written in the tick.
 */
export function beforeWrite(socket: Corkable, ticks: WriteTicks, followed = false): void {
  if (ticks.lastWriteTick !== tick) {
    ticks.lastWriteTick = tick;
    scheduleTickEnd();
    // `followed`: the caller knows more frames for this socket come in this
    // tick (a subscription's `started` before its history and markers), so
    // even the first one waits for them and they leave in one write.
    if (!followed) return;
  }
  // Corked already by us this tick (or by `ws` itself, which uncorks its own).
  if (socket.writableCorked > 0 || socket.destroyed) return;
  socket.cork();
  corked.push(socket);
}

function scheduleTickEnd(): void {
  if (tickEndScheduled) return;
  tickEndScheduled = true;
  process.nextTick(endTick);
}

function endTick(): void {
  tickEndScheduled = false;
  tick++;
  const sockets = corked;
  corked = [];
  for (const socket of sockets) socket.uncork();
}
