import { WebSocket as WsWebSocket } from 'ws';

/**
 * How long a closing socket may wait for the server's close frame. `ws` would
 * wait 30 s, and on a half-open connection (the peer gone without a FIN) the
 * heartbeat's `close()` would then keep the client from reconnecting that long.
 */
const CLOSE_HANDSHAKE_GRACE_MS = 1_000;

/** `ws`'s WebSocket, with a close that cannot hang on a dead peer. */
class NodeWebSocket extends WsWebSocket {
  override close(code?: number, reason?: string | Buffer): void {
    super.close(code, reason);
    if (this.readyState === this.CLOSED) return;
    const timer = setTimeout(() => this.terminate(), CLOSE_HANDSHAKE_GRACE_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  }
}

export const PlatformWebSocket = NodeWebSocket as unknown as typeof globalThis.WebSocket;
