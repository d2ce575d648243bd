/** The part of a net.Socket that batching needs. */
interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed: boolean;
}

const corked = new Set<Corkable>();
let flushScheduled = false;

/**
 * Holds a socket's writes until the end of the current tick, so the frames a
 * tick writes to it (a batch's responses, a replay, a burst of live
 * messages) leave in one TCP write. One `nextTick` uncorks every socket
 * corked in the tick: a fan-out to thousands of sockets schedules one
 * callback, not one per socket.
 */
export function corkUntilNextTick(socket: Corkable): void {
  if (socket.destroyed || corked.has(socket)) return;
  socket.cork();
  corked.add(socket);
  if (!flushScheduled) {
    flushScheduled = true;
    process.nextTick(uncorkAll);
  }
}

function uncorkAll(): void {
  flushScheduled = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}
