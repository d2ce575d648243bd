import type { IncomingMessage } from 'node:http';
import { WebSocket as WsWebSocket, type ClientOptions } from 'ws';
import { retryAfterMsOf } from '../timers.js';
import type { EventSourceClass, PlatformSocketOptions, RefusedUpgrade } from './types.js';

/**
 * How long a closing socket may wait for the server's close frame. `ws` would
 * wait 30 s, and on a half-open connection (the peer gone without a FIN) the
 * heartbeat's `close()` would then keep the client from reconnecting that long.
 */
const CLOSE_HANDSHAKE_GRACE_MS = 1_000;

/**
 * `ws`'s WebSocket, with a bounded opening handshake, a close that cannot
 * hang on a dead peer, and the HTTP answer of a refused upgrade
 * (`refusedUpgrade`: its status and `Retry-After`) for the session to report.
 */
export function platformWebSocket(options: PlatformSocketOptions): typeof globalThis.WebSocket {
  class NodeWebSocket extends WsWebSocket {
    /** The HTTP answer that refused the upgrade; null until one comes. */
    refusedUpgrade: RefusedUpgrade | null = null;

    constructor(address: string | URL, protocols?: string | string[], clientOptions?: ClientOptions) {
      super(address, protocols, { handshakeTimeout: options.connectTimeoutMs, ...clientOptions });
    }

    /**
     * `ws` emits `unexpected-response` with the answer, and aborts the
     * handshake itself (an `error`, then `close` 1006) only when nobody
     * listens. Reading the answer here, rather than listening, keeps that
     * path, so the session sees the same events as with a plain `ws`.
     */
    override emit(event: string | symbol, ...args: unknown[]): boolean {
      if (event === 'unexpected-response') {
        const response = args[1] as IncomingMessage;
        this.refusedUpgrade = { status: response.statusCode ?? 0, retryAfterMs: retryAfterMsOf(response.headers['retry-after']) };
      }
      return super.emit(event, ...args);
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

/**
 * Calls `listener` with the HTTP answer that refused the WebSocket upgrade,
 * read at the socket's `error` event (which `ws` fires before `close`): from
 * Herald's Node class when it exposes one (`refusedUpgrade`, with
 * `Retry-After`), else from `ws`'s error message (any `ws` class an app passes).
 */
export function onRefusedUpgrade(socket: WebSocket, listener: (answer: RefusedUpgrade) => void): void {
  socket.addEventListener('error', (event) => {
    const exposed = (socket as { refusedUpgrade?: RefusedUpgrade | null }).refusedUpgrade;
    const status = exposed ? null : /Unexpected server response: (\d+)/.exec(String((event as { message?: unknown }).message))?.[1];
    const answer = exposed ?? (status == null ? null : { status: Number(status), retryAfterMs: null });
    if (answer) listener(answer);
  });
}

/**
 * Node 20 has no `EventSource`: the `eventsource` package's (on Node's
 * `fetch`), loaded only when a client first goes over HTTP.
 */
export async function platformEventSource(): Promise<EventSourceClass> {
  const { EventSource } = await import('eventsource');
  return EventSource;
}

/** Runs `task` once the current tick's synchronous code and promise jobs are done. */
export function afterThisTick(task: () => void): void {
  process.nextTick(task);
}
