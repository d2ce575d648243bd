import type { EventSourceLike } from '@trpc/server/unstable-core-do-not-import';
import { EventSource } from 'eventsource';
import { WebSocket as WsWebSocket, type ClientOptions } from 'ws';

/**
 * How long a closing socket may wait for the server's close frame. `ws` would
 * wait 30 s, and on a half-open connection (the peer gone without a FIN) the
 * heartbeat's `close()` would then keep the client from reconnecting that long.
 */
const CLOSE_HANDSHAKE_GRACE_MS = 1_000;

export interface PlatformSocketOptions {
  /** Give up on an opening handshake after this long (a stalled network never answers). */
  readonly connectTimeoutMs: number;
}

/** `ws`'s WebSocket, with a bounded opening handshake and a close that cannot hang on a dead peer. */
export function platformWebSocket(options: PlatformSocketOptions): typeof globalThis.WebSocket {
  class NodeWebSocket extends WsWebSocket {
    constructor(address: string | URL, protocols?: string | string[], clientOptions?: ClientOptions) {
      super(address, protocols, { handshakeTimeout: options.connectTimeoutMs, ...clientOptions });
    }

    override close(code?: number, reason?: string | Buffer): void {
      super.close(code, reason);
      if (this.readyState === this.CLOSED) return;
      const timer = setTimeout(() => this.terminate(), CLOSE_HANDSHAKE_GRACE_MS);
      timer.unref();
      this.once('close', () => clearTimeout(timer));
    }
  }
  return NodeWebSocket as unknown as typeof globalThis.WebSocket;
}

/** Node 20 has no `EventSource`: the `eventsource` package's (on Node's `fetch`). */
export function platformEventSource(): EventSourceLike.AnyConstructor {
  return EventSource;
}

/** Runs `task` once the current tick's synchronous code and promise jobs are done. */
export function afterThisTick(task: () => void): void {
  process.nextTick(task);
}
