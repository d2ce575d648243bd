import { CloseCode } from '@herald/shared';
import { CLOSE_NORMAL, JSON_PROTOCOL, MSGPACK_PROTOCOL, packMessage, unpackMessage } from '@herald/shared/internal';
import { afterThisTick, onRefusedUpgrade } from '#platform';
import { clientError } from '../errors.js';
import { everyMs, heartbeatTickMs, unref } from '../timers.js';
import { connectionFrameOf, unreadableNotice } from './frames.js';
import { LivePatches } from './livePatches.js';
import { withQueryParam } from './urls.js';
import type { ConnectionError, ConnectionParams, OutgoingCall, Session, SessionEnd, SessionHandlers } from './session.js';

export interface SessionSettings {
  readonly WebSocket: typeof globalThis.WebSocket;
  readonly connectionParams: ConnectionParams | null;
  readonly pingIntervalMs: number;
  readonly pongTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Calls of one tick after the first go out as batches of at most this many. */
  readonly maxCallsPerFrame: number;
  /** Offer MessagePack (`encoding: 'msgpack'`); the server's choice of subprotocol decides. */
  readonly msgpack: boolean;
}

/** The subprotocols offered for MessagePack: a server that knows neither picks the first (or none), and the session speaks JSON. */
const MSGPACK_OFFER = [JSON_PROTOCOL, MSGPACK_PROTOCOL];

/**
 * One WebSocket, from dialing to its end: the `connectionParams` frame, the
 * client's heartbeat, and a bounded opening handshake. A session never
 * reconnects; `ReconnectingConnection` makes a new one.
 *
 * A session that its heartbeat declares dead ends at once: the app is not
 * kept waiting for a close handshake with a peer that is gone.
 *
 * It reports what the server said when it refused: the HTTP status of a
 * refused upgrade (when the platform shows it), and the error frame with
 * `id: null` a server sends about the connection before it closes it.
 *
 * A server closes with 1009 (`CloseCode.MESSAGE_TOO_BIG`) when a frame is
 * over its `limits.maxPayloadBytes`, without saying which. The largest frame
 * sent on the socket is over the limit whenever any is (and so was never
 * run), so the largest call in it fails with `PAYLOAD_TOO_LARGE` before the
 * session ends: it is never resent, so the next socket is not killed by the
 * same frame (and does not prove itself only to die, resetting the backoff).
 * Its other calls are resent as usual; should their frame be refused again,
 * each refusal fails the next largest, so the client always moves on.
 */
export class SocketSession implements Session {
  readonly transport = 'websocket' as const;
  readonly #socket: WebSocket;
  #ready = false;
  #ended = false;
  /** The server picked `herald.msgpack`: frames are MessagePack (set when the socket opens). */
  #binary = false;
  /** The upgrade was answered with a plain HTTP response that is not a Herald capacity refusal. */
  #refused = false;
  /** The status of the HTTP answer that refused the upgrade, when the platform shows it. */
  #httpStatus: number | null = null;
  /** What the refusing answer's body said (Node only). */
  #httpHint: string | null = null;
  /** Why the socket could not reach the server before it opened (Node's `ECONNREFUSED` and such; browsers hide it). */
  #connectError: Error | null = null;
  #retryAfterMs: number | null = null;
  /** The server's error about the connection (`id: null`), kept for the end that follows it. */
  #serverError: ConnectionError | null = null;
  /** The server answered on this socket (see `SessionHandlers.onProven`). */
  #proven = false;
  #lastSeenAt = Date.now();
  #pingSentAt = 0;
  /** Stops this session's heartbeat checks (on the timer every session shares, see `everyMs`). */
  readonly #stopHeartbeat: () => void;
  readonly #connectTimer: ReturnType<typeof setTimeout>;
  /** Requests made in this tick after its first, sent together when the tick ends; null when none is pending. */
  #batch: string[] | null = null;
  /** The call ids of `#batch`'s requests, in the same order (null for a request that is not a call). */
  #batchIds: (number | null)[] = [];
  /** `#flushBatch`, bound once (a tick that sends schedules it; no closure per call). */
  readonly #flush = (): void => this.#flushBatch();
  /**
   * The length of the largest frame sent (in UTF-16 code units: for JSON
   * text about its bytes; only compared), and the id of the largest call in
   * it, or null when it carried none (`connectionParams`).
   */
  #largestFrame = 0;
  #largestFrameCall: number | null = null;

  readonly #settings: SessionSettings;
  readonly #handlers: SessionHandlers;
  /** Live query patches of its subscriptions (see `LivePatches`). */
  readonly #patches = new LivePatches({
    stop: (id) => this.#request(JSON.stringify({ id, method: 'subscription.stop' }), null),
    start: (call) => this.startCall(call),
  });

  constructor(
    readonly url: string,
    settings: SessionSettings,
    handlers: SessionHandlers,
  ) {
    this.#handlers = handlers;
    this.#settings = settings;
    const target = settings.connectionParams ? withQueryParam(url, 'connectionParams', '1') : url;
    this.#socket = settings.msgpack ? new settings.WebSocket(target, MSGPACK_OFFER) : new settings.WebSocket(target);
    if (settings.msgpack) this.#socket.binaryType = 'arraybuffer';
    this.#socket.addEventListener('open', () => this.#onOpen());
    this.#socket.addEventListener('message', (event) => this.#onFrame(event.data));
    this.#socket.addEventListener('close', (event) => {
      const error = new Error(`WebSocket closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`);
      if (event.code === CloseCode.MESSAGE_TOO_BIG) this.#refuseLargestCall();
      this.#end({ code: event.code, error });
    });
    // Browsers fire `error` then `close`; `ws` too. The close carries the
    // details, except that in Node the `error` tells that the upgrade got an
    // HTTP answer (browsers hide it).
    this.#socket.addEventListener('error', (event) => {
      // `ws` hands over the network error (a code such as ECONNREFUSED, and the address in its message).
      const cause = (event as { error?: unknown }).error;
      if (!this.#ready && cause instanceof Error && typeof (cause as { code?: unknown }).code === 'string') this.#connectError ??= cause;
    });
    onRefusedUpgrade(this.#socket, (answer) => {
      if (this.#ready) return;
      this.#httpStatus = answer.status;
      this.#httpHint = answer.hint;
      this.#retryAfterMs = answer.retryAfterMs;
      // Herald's own capacity refusals (per-IP 429, full or draining 503) are
      // not about the upgrade: retry the WebSocket. Any other answer (a proxy's
      // 403 or 400, a 200 page) means something on the way strips upgrades;
      // an origin refusal (403) then surfaces from the HTTP side, which checks origins too.
      if (!HERALD_REFUSAL_STATUSES.has(answer.status)) this.#refused = true;
    });

    this.#connectTimer = setTimeout(() => {
      if (!this.#ready) this.#fail(new Error(`The opening handshake took longer than ${settings.connectTimeoutMs} ms`));
    }, settings.connectTimeoutMs);
    this.#stopHeartbeat = everyMs(heartbeatTickMs(settings.pingIntervalMs, settings.pongTimeoutMs), () => this.#checkHeartbeat());
    unref(this.#connectTimer);
  }

  get isReady(): boolean {
    return this.#ready && !this.#ended;
  }

  startCall(call: OutgoingCall): boolean {
    // The same text as JSON.stringify({ id, method, params: { path, input, lastEventId?, idempotencyKey?, trace? } }).
    const input = call.inputJson;
    let params = `"path":${JSON.stringify(call.path)}${input === undefined ? '' : `,"input":${input}`}`;
    if (call.lastEventId !== undefined) params += `,"lastEventId":${JSON.stringify(call.lastEventId)}`;
    if (call.idempotencyKey !== undefined) params += `,"idempotencyKey":${JSON.stringify(call.idempotencyKey)}`;
    // Live query patches on JSON only: MessagePack frames carry bytes as `bin`, not as the JSON a patch is made of.
    if (!this.#binary) params += this.#patches.ask(call);
    if (call.trace !== undefined) params += `,"trace":${JSON.stringify(call.trace)}`;
    return this.#request(`{"id":${JSON.stringify(call.id)},"method":${JSON.stringify(call.type)},"params":{${params}}}`, call.id);
  }

  stopCall(id: number): void {
    this.#patches.forget(id);
    // `subscription.stop` also cancels a query or mutation on a Herald server (its signal aborts).
    this.#request(JSON.stringify({ id, method: 'subscription.stop' }), null);
  }

  /**
   * Sends one request: the first of a tick at once (nothing waits on a
   * timer), the rest of the tick as batches when it ends, so a burst of
   * calls costs a few frames and writes instead of one each.
   */
  #request(json: string, callId: number | null): boolean {
    if (!this.isReady) return false;
    if (this.#batch) {
      this.#batch.push(json);
      this.#batchIds.push(callId);
      return true;
    }
    this.#noteFrame(json.length, callId);
    this.#send(json);
    if (this.#settings.maxCallsPerFrame > 1) {
      this.#batch = [];
      afterThisTick(this.#flush);
    }
    return true;
  }

  #flushBatch(): void {
    const batch = this.#batch ?? [];
    const ids = this.#batchIds;
    this.#batch = null;
    this.#batchIds = [];
    // A session that ended meanwhile drops them: its calls are resent on the next one.
    if (!this.isReady) return;
    const size = this.#settings.maxCallsPerFrame;
    for (let start = 0; start < batch.length; start += size) {
      const end = Math.min(start + size, batch.length);
      // The frame's length (the requests, a comma between each, the brackets) and its largest call.
      let length = end - start > 1 ? end - start + 1 : 0;
      let largest = start;
      for (let i = start; i < end; i++) {
        length += batch[i]!.length;
        if (ids[i] !== null && (ids[largest] === null || batch[i]!.length > batch[largest]!.length)) largest = i;
      }
      this.#noteFrame(length, ids[largest]!);
      this.#send(end - start === 1 ? batch[start]! : `[${batch.slice(start, end).join(',')}]`);
    }
  }

  refreshCredentials(params: ConnectionParams): void {
    if (!this.isReady) return;
    const json = JSON.stringify({ method: 'connectionParams', data: params });
    this.#noteFrame(json.length, null);
    this.#send(json);
  }

  /** Writes one message: as it is (JSON text), or as MessagePack when the server picked it. */
  #send(json: string): void {
    if (this.#binary) this.#socket.send(packMessage(JSON.parse(json)));
    else this.#socket.send(json);
  }

  /** Remembers the largest frame sent so far (see the class's note on 1009). */
  #noteFrame(length: number, callId: number | null): void {
    if (length <= this.#largestFrame) return;
    this.#largestFrame = length;
    this.#largestFrameCall = callId;
  }

  /**
   * The server closed with 1009: the largest call of the largest frame sent
   * fails with `PAYLOAD_TOO_LARGE` (a call already answered, or no call at
   * all, leaves the others to the usual resend).
   */
  #refuseLargestCall(): void {
    const id = this.#largestFrameCall;
    if (this.#ended || id === null) return;
    const size = this.#largestFrame >= MIB ? `${(this.#largestFrame / MIB).toFixed(1)} MiB` : `${Math.ceil(this.#largestFrame / KIB)} KiB`;
    const message = `The server refused this call for its size: its frame (about ${size}) is over the server's limit (limits.maxPayloadBytes), so it closed the connection with 1009 (message too big). The call did not run and is not sent again; send less`;
    this.#handlers.onEvent(this, id, { type: 'error', error: clientError('PAYLOAD_TOO_LARGE', message) });
  }

  /** Closes normally; `onEnd` follows. */
  close(code: number = CLOSE_NORMAL, reason = 'client closing'): void {
    this.#fail(new Error(reason), code);
  }

  #onOpen(): void {
    if (this.#ended) return;
    clearTimeout(this.#connectTimer);
    this.#lastSeenAt = Date.now();
    this.#binary = this.#socket.protocol === MSGPACK_PROTOCOL;
    if (this.#settings.connectionParams) {
      const json = JSON.stringify({ method: 'connectionParams', data: this.#settings.connectionParams });
      this.#noteFrame(json.length, null);
      this.#send(json);
    }
    this.#ready = true;
    this.#handlers.onReady(this);
  }

  /**
   * One frame from the server, decoded here: a call's frame becomes its
   * event, anything else a notice or the server's error about the connection.
   * A frame that cannot be read is reported, never thrown (see frames.ts).
   */
  #onFrame(data: unknown): void {
    if (this.#ended) return;
    this.#lastSeenAt = Date.now();
    this.#pingSentAt = 0;
    if (typeof data !== 'string') {
      this.#onBinaryFrame(data);
      return;
    }
    if (data === 'PONG') {
      this.#prove();
      return;
    }
    if (data === 'PING') {
      this.#prove();
      this.#socket.send('PONG');
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(data);
    } catch (cause) {
      this.#handlers.onNotice(this, unreadableNotice('a frame that is not JSON', cause));
      return;
    }
    this.#onMessage(message);
  }

  /**
   * A binary frame: MessagePack on a session the server agreed to speak it
   * on. Text frames are read as JSON on either (heartbeats, and a server
   * that sends JSON before it knows the encoding).
   */
  #onBinaryFrame(data: unknown): void {
    if (!this.#binary) {
      this.#handlers.onNotice(this, unreadableNotice('a binary frame on a connection that speaks JSON'));
      return;
    }
    let message: unknown;
    try {
      message = unpackMessage(data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array));
    } catch (cause) {
      this.#handlers.onNotice(this, unreadableNotice('a frame that is not MessagePack', cause));
      return;
    }
    this.#onMessage(message);
  }

  /** A decoded frame: a call's event, or about the connection. */
  #onMessage(message: unknown): void {
    if (typeof message !== 'object' || message === null) {
      this.#handlers.onNotice(this, unreadableNotice('a frame that is not a JSON object'));
      return;
    }
    const id = (message as { id?: unknown }).id;
    if (id === null || id === undefined) {
      // About the connection, not a call: a refusal or a failed setup (the
      // server closes next), or a notice such as `reconnect`. Neither shows the
      // server serves this connection.
      const frame = connectionFrameOf(message as Record<string, unknown>);
      if (frame?.kind === 'error') this.#serverError ??= frame.error;
      else if (frame) this.#handlers.onNotice(this, frame.notice);
      return;
    }
    this.#prove();
    if (typeof id === 'number') {
      const event = this.#patches.eventOf(id, message as Record<string, unknown>);
      if (event) this.#handlers.onEvent(this, id, event);
    }
    else this.#handlers.onNotice(this, unreadableNotice(`a frame whose id ${JSON.stringify(id)} is not a number`));
  }

  #prove(): void {
    if (this.#proven || this.#ended) return;
    this.#proven = true;
    this.#handlers.onProven(this);
  }

  #checkHeartbeat(): void {
    if (!this.#ready || this.#ended) return;
    const now = Date.now();
    if (this.#pingSentAt !== 0) {
      if (now - this.#pingSentAt >= this.#settings.pongTimeoutMs) {
        this.#fail(new Error(`No answer to PING within ${this.#settings.pongTimeoutMs} ms`));
      }
    } else if (now - this.#lastSeenAt >= this.#settings.pingIntervalMs) {
      this.#pingSentAt = now;
      this.#socket.send('PING');
    }
  }

  #fail(error: Error, code: number = CLOSE_NORMAL): void {
    if (this.#ended) return;
    try {
      this.#socket.close(code, error.message.slice(0, 120));
    } catch {
      // Closing a socket that never opened can throw in some runtimes; it is over either way.
    }
    this.#end({ code: null, error });
  }

  #end(details: { code: number | null; error: Error }): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#connectTimer);
    this.#stopHeartbeat();
    this.#handlers.onEnd(this, {
      wasReady: this.#ready,
      refused: this.#refused,
      code: details.code,
      error: describeEnd(details.error, this.url, {
        opened: this.#ready,
        code: details.code,
        httpStatus: this.#httpStatus,
        hint: this.#httpHint,
        connectError: this.#connectError,
        serverError: this.#serverError,
      }),
      httpStatus: this.#httpStatus,
      retryAfterMs: this.#retryAfterMs,
      serverError: this.#serverError,
    } satisfies SessionEnd);
  }
}

const HERALD_REFUSAL_STATUSES = /* @__PURE__ */ new Set([429, 503]);
const KIB = 1_024;
const MIB = 1_048_576;

/**
 * The error a session ends with, naming what is known of why: the HTTP
 * status that refused the upgrade and what its body said, the network error
 * that kept it from the server (with the URL), or the server's own reason.
 */
function describeEnd(
  error: Error,
  url: string,
  why: {
    opened: boolean;
    code: number | null;
    httpStatus: number | null;
    hint: string | null;
    connectError: Error | null;
    serverError: ConnectionError | null;
  },
): Error {
  const { httpStatus, hint, connectError, serverError } = why;
  if (httpStatus !== null) return new Error(`The server refused the WebSocket upgrade with HTTP ${httpStatus}${hint ? `: ${hint}` : ''}`, { cause: error });
  if (connectError) return new Error(`Could not connect to ${url}: ${connectError.message}`, { cause: connectError });
  if (serverError) return new Error(`${error.message}: ${serverError.message}`, { cause: error });
  // A browser tells no more than the close: the address, at least, says where it tried.
  if (!why.opened && why.code === CloseCode.ABNORMAL_CLOSURE) return new Error(`Could not connect to ${url}: ${error.message} before it opened`, { cause: error });
  return error;
}
