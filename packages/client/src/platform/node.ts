import type { ClientRequest, IncomingMessage } from 'node:http';
import { WebSocket as WsWebSocket, type ClientOptions } from 'ws';
import { retryAfterMsOf } from '../timers.js';
import type { EventSourceClass, PlatformSocketOptions, RefusedUpgrade } from './types.js';

/**
 * How long a closing socket may wait for the server's close frame. `ws` would
 * wait 30 s, and on a half-open connection (the peer gone without a FIN) the
 * heartbeat's `close()` would then keep the client from reconnecting that long.
 */
const CLOSE_HANDSHAKE_GRACE_MS = 1_000;
/** The most of a refused upgrade's body read for its hint, in bytes. */
const REFUSAL_BODY_MAX_BYTES = 2_048;
/** How long a refused upgrade's body may take to arrive after its headers. */
const REFUSAL_BODY_WAIT_MS = 1_000;
/** The longest hint kept, in characters. */
const REFUSAL_HINT_MAX_CHARS = 300;

/**
 * `ws`'s WebSocket, with a bounded opening handshake, a close that cannot
 * hang on a dead peer, and the HTTP answer of a refused upgrade
 * (`refusedUpgrade`: its status, `Retry-After` and what its body says) for
 * the session to report.
 */
export function platformWebSocket(options: PlatformSocketOptions): typeof globalThis.WebSocket {
  class NodeWebSocket extends WsWebSocket {
    /** The HTTP answer that refused the upgrade; null until one comes. */
    refusedUpgrade: RefusedUpgrade | null = null;

    constructor(address: string | URL, protocols?: string | string[], clientOptions?: ClientOptions) {
      super(address, protocols, { handshakeTimeout: options.connectTimeoutMs, ...clientOptions });
      // With a listener, `ws` leaves the refused handshake to it: the body is read (bounded), then the
      // request is ended with the error `ws` would have given, so the session sees the same `error`
      // (`Unexpected server response: <status>`) and `close` 1006 as without one.
      this.on('unexpected-response', (req: ClientRequest, response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        void hintOf(response).then((hint) => {
          this.refusedUpgrade = { status, retryAfterMs: retryAfterMsOf(response.headers['retry-after']), hint };
          req.destroy(new Error(`Unexpected server response: ${status}`));
        });
      });
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
    const answer = exposed ?? (status == null ? null : { status: Number(status), retryAfterMs: null, hint: null });
    if (answer) listener(answer);
  });
}

/**
 * What a refused upgrade's body says, for the client's error: a JSON body's
 * `message` (Herald's refusals: `{ error, message }`), or a short plain
 * text's first line; null for anything else, a body over
 * `REFUSAL_BODY_MAX_BYTES`, or one that does not arrive within
 * `REFUSAL_BODY_WAIT_MS`.
 */
function hintOf(response: IncomingMessage): Promise<string | null> {
  const type = response.headers['content-type'] ?? '';
  const json = type.includes('json');
  if (!json && !type.startsWith('text/plain')) {
    response.resume();
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const done = (text: string | null): void => {
      clearTimeout(timer);
      response.removeAllListeners('data');
      response.resume();
      resolve(text === null ? null : readableHint(text, json));
    };
    const timer = setTimeout(() => done(null), REFUSAL_BODY_WAIT_MS);
    response.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > REFUSAL_BODY_MAX_BYTES) done(null);
      else chunks.push(chunk);
    });
    response.once('end', () => done(Buffer.concat(chunks).toString('utf8')));
    response.once('error', () => done(null));
  });
}

function readableHint(text: string, json: boolean): string | null {
  let hint: unknown = text;
  if (json) {
    try {
      const body = JSON.parse(text) as { message?: unknown; error?: { message?: unknown } };
      hint = body.message ?? body.error?.message;
    } catch {
      return null;
    }
  }
  if (typeof hint !== 'string') return null;
  // One line of printable text: a hint is shown inside the client's error message.
  const line = [...(hint.split(/\r?\n/)[0] ?? '')].filter((char) => char >= ' ' && char !== '\u007f').join('').trim();
  return line === '' ? null : line.slice(0, REFUSAL_HINT_MAX_CHARS);
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
