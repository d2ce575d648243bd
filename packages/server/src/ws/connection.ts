import type { IncomingMessage } from 'node:http';
import { TRPCError } from '@trpc/server';
import { CloseCode } from '@herald/shared';
import { MSGPACK_PROTOCOL } from '@herald/shared/internal';
import type { RawData } from 'ws';
import { OpeningSubscriptions } from '../calls/ordering.js';
import { UNKNOWN_CONTEXT, type ErrorContext } from '../calls/outcome.js';
import { errorCodeOf } from '../calls/runner.js';
import { HeraldError, RefusalReason } from '../errors.js';
import { isThenable } from '../thenable.js';
import type { ConnectionParams } from '../transport/admission.js';
import { newConnectionId, type Admitted, type AdmissionOutcome, type Refusal } from '../transport/gate.js';
import { CallTable } from './callTable.js';
import { dispatchFrame, messageOf } from './dispatch.js';
import { byteLengthOf, Encoding, heartbeatOf, isConnectionParams, paramsOf, PING, PONG, PONG_FRAME, textOf, unpackFrame, wantsConnectionParams, wrongEncoding } from './frames.js';
import type { HeartbeatMonitor, HeartbeatPeer } from './heartbeat.js';
import type { CallHost, DoorConfig, HostedCall } from './host.js';
import type { PreparedFrame } from './preparedFrame.js';
import { reauthenticate, type RefreshHost } from './refresh.js';
import { logClose, wsCloseCodeOf } from './endings.js';
import { CLOSE_OF } from './refusals.js';
import type { HeraldSocket, SocketListener } from './socket.js';
import type { BinaryWire } from './binaryWire.js';
import { NULL_ENVELOPE, type Envelope, type Wire } from './wire.js';
import { callTopics, countSubscriptions, summarizeCalls, type ConnectionSummary } from './summary.js';

export type { ConnectionSummary };

/** What the handler adds to the door's shared config: how it hears of a connection's answers and end. */
export interface ConnectionConfig extends DoorConfig {
  /** Watches every connection of the door for life and expiry; a connection joins it when made and leaves when closed. */
  readonly heartbeat: HeartbeatMonitor;
  /** A query or mutation finished (the drain waits for the last one). */
  readonly onAnswered: () => void;
  readonly onClosed: (connection: Connection) => void;
}

/** Who a connection is, for logs. */
export interface ConnectionIdentity {
  /** Numbered per server: `c<number>` in logs. */
  readonly number: number;
  /** The client's address (the proxy's `X-Forwarded-For` entry with `trustProxy`). */
  readonly address: string;
}


/**
 * Where a connection is in its life. Requests that arrive while it is
 * admitted wait in `admitting`, in order; a refused connection is `closing`
 * (frames ignored) until its socket reports the close.
 */
type Phase =
  | { readonly name: 'awaiting-params'; readonly timer: NodeJS.Timeout }
  | { readonly name: 'admitting'; readonly waiting: unknown[] }
  | { readonly name: 'open' }
  | { readonly name: 'closing' }
  | { readonly name: 'closed' };


const OPEN: Phase = { name: 'open' };
const CLOSING: Phase = { name: 'closing' };
const CLOSED: Phase = { name: 'closed' };

/**
 * How long a slow consumer's socket may take to close after its 4002 close
 * frame (queued behind everything it did not read) before it is destroyed:
 * a peer that stopped reading will not read the close frame either, and its
 * send buffer is memory the server wants back.
 */
const SLOW_CONSUMER_GRACE_MS = 1_000;

/**
 * One WebSocket speaking tRPC's wire protocol, through a `HeraldSocket`: its
 * admission (connection params, then the request gate's `admit`), in-band
 * refresh and expiry, its bounded writes, and its incoming frames. Each
 * frame's requests go to `dispatchFrame` (dispatch.ts), which sees the
 * connection only as a `CallHost`.
 */
export class Connection implements CallHost, HeartbeatPeer, RefreshHost, SocketListener {
  heartbeatIndex = -1;
  /** When the credentials stop being trusted (their expiry plus the grace), in ms; 0 when they do not expire. */
  trustedUntil = 0;
  /** The context every call on this connection shares, once admitted. */
  ctx: unknown = undefined;
  /** The key of the user this connection belongs to (it holds a user slot under it), or null when anonymous. */
  userKey: string | null = null;
  readonly address: string;
  /** Bytes of the frames received and sent (before compression), for the admin page. */
  bytesIn = 0;
  bytesOut = 0;
  readonly opening = new OpeningSubscriptions();
  private phase: Phase;
  private encoding: Encoding;
  /** Calls running or open, by request envelope. */
  private readonly calls = new CallTable<HostedCall>();
  private unansweredCalls = 0;
  private slowConsumerTimer: NodeJS.Timeout | null = null;
  /** The in-band refreshes, one at a time in arrival order. */
  private refreshes: Promise<void> | null = null;
  /** Why the server ended the connection, when it did (for the close log line). */
  private endedBy: { code: number; reason: string } | null = null;
  private closeWaiters: (() => void)[] | null = null;
  private readonly openedAt = Date.now();
  private readonly number: number;
  /** Its id for the app: `createContext`'s `connectionId` (`connectionId` below is its name in logs). */
  readonly appConnectionId = newConnectionId();
  /**
   * The upgrade request, kept until `authenticate` and `createContext` have
   * seen it (it is a few KiB per socket), and for as long as the credentials
   * expire, since an in-band refresh runs them again with it.
   */
  private req: IncomingMessage | null;

  constructor(
    private readonly socket: HeraldSocket,
    req: IncomingMessage,
    readonly config: ConnectionConfig,
    identity: ConnectionIdentity,
  ) {
    this.number = identity.number;
    this.address = identity.address;
    this.req = req;
    this.encoding = socket.protocol === MSGPACK_PROTOCOL ? Encoding.MSGPACK : Encoding.UNDECIDED;
    socket.listen(this);
    config.heartbeat.add(this);
    config.metrics.connectionsOpened++;
    // Checked first: a silenced logger must not cost each connection its log record.
    if (config.logger.isLevelEnabled('info')) {
      config.logger.info(
        { event: 'connection.open', connectionId: this.connectionId, ip: this.address, origin: req.headers.origin ?? null },
        'connection opened',
      );
    }
    if (wantsConnectionParams(req.url)) {
      const timer = setTimeout(() => {
        this.refuse(
          config.gate.refuse(
            RefusalReason.CONNECTION_PARAMS_TIMEOUT,
            new HeraldError('UNAUTHORIZED', 'No connectionParams arrived in time; send them as the first frame'),
          ),
        );
      }, config.connectionParamsTimeoutMs);
      this.phase = { name: 'awaiting-params', timer };
    } else {
      this.phase = { name: 'admitting', waiting: [] };
      this.admit(null);
    }
  }

  /** This connection's name in logs. */
  get connectionId(): string {
    return `c${this.number}`;
  }

  get closed(): boolean {
    return this.phase === CLOSED;
  }

  /** Whether it speaks MessagePack (binary frames) rather than JSON text. */
  get binary(): boolean {
    return this.encoding === Encoding.MSGPACK;
  }

  /** Its frame builder, by its encoding (JSON text until a MessagePack connection is known to be one). */
  get frames(): Wire | BinaryWire {
    return this.encoding === Encoding.MSGPACK ? this.config.binaryWire : this.config.wire;
  }

  /** Queries and mutations not answered yet (what a drain waits for). */
  get unanswered(): number {
    return this.unansweredCalls;
  }

  get subscriptionCount(): number {
    return countSubscriptions(this.calls.values());
  }

  /** The channel topics its subscriptions deliver (`callTopics`), for the admin page's connections per channel. */
  get topics(): string[] {
    return callTopics(this.calls.values());
  }

  /** Who this connection is and what it subscribes to (`summarizeCalls`), for the admin page; `displayName` from `admin.displayName`. */
  describe(displayName: string | null): ConnectionSummary {
    return { ...this.who(), displayName, connectedAt: this.openedAt, ...summarizeCalls(this.calls.values()), bytesIn: this.bytesIn, bytesOut: this.bytesOut };
  }

  /** This connection in a refusal's log line, the admin page's event log and its lookup. */
  private who() {
    return { connectionId: this.connectionId, userKey: this.userKey, address: this.address, transport: 'websocket' } as const;
  }

  callAt(envelope: Envelope): HostedCall | undefined {
    return this.calls.get(envelope);
  }

  track(envelope: Envelope, call: HostedCall): void {
    this.calls.set(envelope, call);
  }

  forget(envelope: Envelope, call: HostedCall): void {
    if (this.calls.get(envelope) === call) this.calls.delete(envelope);
  }

  began(): void {
    this.unansweredCalls++;
  }

  answered(): void {
    this.unansweredCalls--;
    this.config.onAnswered();
  }

  /** Ends a connection whose credentials expired: the client reconnects with fresh ones and resumes. */
  expire(): void {
    this.refuse(this.config.gate.expiredRefusal());
  }

  /** Ends a connection whose user's sessions were revoked (`server.disconnectUser`). */
  revoke(reason: string): void {
    this.config.gate.refuse(RefusalReason.REVOKED, new HeraldError('UNAUTHORIZED', reason), this.who());
    this.close(CloseCode.REVOKED, reason);
  }

  ping(): void {
    this.socket.ping();
  }

  /** The answer to the heartbeat's ping: proof of life like any frame (and counted as one received). */
  onPong(): void {
    this.config.heartbeat.heard(this);
    this.config.metrics.framesIn++;
  }

  /** Drops the socket without a close handshake: by default for a heartbeat timeout, else for a close that took too long. */
  terminate(code: CloseCode = CloseCode.HEARTBEAT_TIMEOUT, reason = 'heartbeat timeout'): void {
    this.endedBy ??= { code, reason };
    this.socket.terminate();
  }

  close(code: CloseCode, reason: string): void {
    if (this.phase === CLOSED) return;
    this.endedBy ??= { code, reason };
    this.socket.close(code, reason);
  }

  /** Resolves once the socket reported its close. */
  whenClosed(): Promise<void> {
    if (this.phase === CLOSED) return Promise.resolve();
    return new Promise((resolve) => (this.closeWaiters ??= []).push(resolve));
  }

  /** Sends tRPC's reconnect notice: the client opens a new socket and moves its subscriptions there. */
  requestReconnect(): void {
    this.send(this.frames.reconnect());
  }

  /**
   * Writes one frame unless the socket is over its buffered-bytes bound: then
   * the peer is not reading, and it is closed with SLOW_CONSUMER instead of
   * letting its queue grow. It resumes from history when it reconnects.
   * `followed`: more frames for this socket follow in the same tick, so this
   * one waits for them.
   */
  send(frame: string | Uint8Array, followed = false): void {
    if (typeof frame !== 'string') return this.sendBytes(frame, followed);
    const text = frame;
    if (!this.writable()) return;
    const byteLength = Buffer.byteLength(text);
    this.config.metrics.bytesOut += byteLength;
    this.bytesOut += byteLength;
    this.socket.sendText(text, byteLength, followed);
  }

  /** `send` on a MessagePack connection: one message as a binary frame, its bytes as `bin`. */
  sendBytes(bytes: Uint8Array, followed = false): void {
    if (!this.writable()) return;
    this.config.metrics.bytesOut += bytes.length;
    this.bytesOut += bytes.length;
    this.socket.sendBinary(bytes, followed);
  }

  /** `send` for a frame shared by many sockets: written as it was built where the socket allows it. */
  sendPrepared(frame: PreparedFrame): void {
    if (!this.writable()) return;
    this.config.metrics.bytesOut += frame.payload.length;
    this.bytesOut += frame.payload.length;
    this.socket.sendPrepared(frame);
  }

  sendError(envelope: Envelope, error: TRPCError, context: ErrorContext): void {
    const { config } = this;
    config.metrics.error(errorCodeOf(error));
    this.send(this.frames.error(envelope, error, context, (cause) => config.runner.report(cause, context)));
  }

  fail(envelope: Envelope, call: { readonly aborted: boolean }, context: ErrorContext, cause: unknown): void {
    if (call.aborted && this.phase === CLOSED) return;
    this.sendError(envelope, this.config.runner.failure(cause, context), { ...context, ctx: this.ctx });
  }

  /** Whether a frame may be written now: open, and under the buffered-bytes bound. */
  private writable(): boolean {
    const { socket } = this;
    if (!socket.isOpen) return false;
    if (socket.bufferedAmount > this.config.maxBufferedBytes) {
      this.closeSlowConsumer();
      return false;
    }
    this.config.metrics.framesOut++;
    return true;
  }

  private closeSlowConsumer(): void {
    this.config.metrics.slowConsumerCloses++;
    this.config.metrics.events.emit(() => ({ kind: 'slow-consumer', reason: 'slow_consumer', ...this.who() }));
    this.close(CloseCode.SLOW_CONSUMER, 'slow consumer: send buffer over its bound');
    this.slowConsumerTimer = setTimeout(() => this.socket.terminate(), SLOW_CONSUMER_GRACE_MS);
    this.slowConsumerTimer.unref();
  }

  onFrame(data: RawData, isBinary: boolean): void {
    const { metrics } = this.config;
    this.config.heartbeat.heard(this);
    metrics.framesIn++;
    const received = byteLengthOf(data);
    metrics.bytesIn += received;
    this.bytesIn += received;
    if (isBinary) return this.onBinaryFrame(data);
    // Heartbeats are most of an idle server's frames: told apart by their bytes, answered with a frame built once.
    const heartbeat = heartbeatOf(data);
    if (heartbeat === PING) return this.sendPrepared(PONG_FRAME);
    if (heartbeat === PONG) return;
    const text = textOf(data);
    // The same in fragments (which no known client sends).
    if (text === 'PING') return this.sendPrepared(PONG_FRAME);
    if (text === 'PONG') return;
    if (this.encoding !== Encoding.JSON) {
      if (this.encoding === Encoding.MSGPACK) return this.sendError(NULL_ENVELOPE, wrongEncoding('a text frame', Encoding.MSGPACK), UNKNOWN_CONTEXT);
      this.encoding = Encoding.JSON;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      this.sendError(NULL_ENVELOPE, new TRPCError({ code: 'PARSE_ERROR', message: 'The frame is not valid JSON', cause }), UNKNOWN_CONTEXT);
      return;
    }
    this.route(parsed);
  }

  /** A binary frame: MessagePack, on a connection that speaks it or has not decided yet. */
  private onBinaryFrame(data: RawData): void {
    if (this.encoding === Encoding.JSON) return this.sendError(NULL_ENVELOPE, wrongEncoding('a binary frame', Encoding.JSON), UNKNOWN_CONTEXT);
    this.encoding = Encoding.MSGPACK;
    const frame = unpackFrame(data);
    if ('error' in frame) return this.sendError(NULL_ENVELOPE, frame.error, UNKNOWN_CONTEXT);
    this.route(frame.value);
  }

  /** A decoded frame, by the connection's phase. */
  private route(parsed: unknown): void {
    const { phase } = this;
    if (phase === OPEN) this.handle(parsed);
    else if (phase.name === 'awaiting-params') this.acceptConnectionParams(phase.timer, parsed);
    // Sent before admission is decided: they wait for it, in the order they came, and then
    // spend the user's request budget (not the address's); a refused connection answers none.
    else if (phase.name === 'admitting') phase.waiting.push(parsed);
  }

  /** One parsed frame on an admitted connection: an in-band refresh, or requests. */
  private handle(parsed: unknown): void {
    if (isConnectionParams(parsed)) this.refresh(parsed);
    else dispatchFrame(this, Array.isArray(parsed) ? parsed : [parsed]);
  }

  private acceptConnectionParams(timer: NodeJS.Timeout, parsed: unknown): void {
    clearTimeout(timer);
    let params: ConnectionParams | null;
    try {
      if (!isConnectionParams(parsed)) throw new Error('the first frame must be {"method":"connectionParams","data":{...}}');
      params = paramsOf(parsed);
    } catch (cause) {
      this.phase = CLOSING;
      this.sendError(
        NULL_ENVELOPE,
        new TRPCError({ code: 'PARSE_ERROR', message: `Malformed connectionParams: ${messageOf(cause)}`, cause }),
        UNKNOWN_CONTEXT,
      );
      this.close(CloseCode.PROTOCOL_ERROR, 'malformed connectionParams');
      return;
    }
    this.phase = { name: 'admitting', waiting: [] };
    this.admit(params);
  }

  /** Asks the gate to admit the connection (decided at once when nothing in it is asynchronous). */
  private admit(params: ConnectionParams | null): void {
    const req = this.req!;
    this.req = null;
    const outcome = this.config.gate.admit(params, req, this.address, true, this.appConnectionId);
    if (isThenable(outcome)) void outcome.then((decided) => this.admitted(decided, req));
    else this.admitted(outcome, req);
  }

  private admitted(outcome: AdmissionOutcome, req: IncomingMessage): void {
    const { phase } = this;
    if (phase.name !== 'admitting') {
      // The socket closed meanwhile: the user slot the gate took goes back at once.
      if (outcome.ok) this.config.gate.release(outcome);
      return;
    }
    if (!outcome.ok) {
      if (outcome.refusal) return this.refuse(outcome.refusal);
      this.config.runner.report(outcome.error, UNKNOWN_CONTEXT);
      this.phase = CLOSING;
      this.sendError(NULL_ENVELOPE, outcome.error, UNKNOWN_CONTEXT);
      this.close(CloseCode.INTERNAL_ERROR, 'createContext failed');
      return;
    }
    this.ctx = outcome.ctx;
    this.userKey = outcome.userKey;
    this.trust(outcome, req);
    this.phase = OPEN;
    this.config.gate.connected(this.who());
    for (const parsed of phase.waiting) this.handle(parsed);
  }

  /**
   * Takes the caller's expiry: the heartbeat sweep and dispatch stop
   * trusting the connection after it (plus the grace). The client hears how
   * long that is, so it can refresh in time without a clock of its own.
   */
  private trust(admitted: Admitted, req: IncomingMessage): void {
    this.trustedUntil = admitted.trustedUntil;
    this.config.heartbeat.trust(this, admitted.trustedUntil);
    const { expiresAt } = admitted.identity;
    if (expiresAt === null) {
      this.req = null;
      return;
    }
    this.req = req;
    this.send(this.frames.session(expiresAt - Date.now(), null));
  }

  get isOpen(): boolean {
    return this.phase === OPEN;
  }

  get upgradeRequest(): IncomingMessage | null {
    return this.req;
  }

  hostedCalls(): Iterable<HostedCall> {
    return this.calls.values();
  }

  renew(refreshed: Admitted): void {
    this.ctx = refreshed.ctx;
    this.trust(refreshed, this.req!);
  }

  /** An in-band refresh (refresh.ts): fresh `connectionParams` on the open socket. One runs at a time, in arrival order. */
  private refresh(parsed: { data?: unknown }): void {
    const next = (this.refreshes ?? Promise.resolve()).then(() => reauthenticate(this, parsed));
    this.refreshes = next;
    void next.finally(() => {
      if (this.refreshes === next) this.refreshes = null;
    });
  }

  /** Answers with the refusal's error (a frame without a request id: it concerns the connection), then closes as the reason says. */
  private refuse(refusal: Refusal): void {
    if (this.phase === CLOSED) return;
    this.phase = CLOSING;
    this.sendError(NULL_ENVELOPE, refusal.error, UNKNOWN_CONTEXT);
    const close = CLOSE_OF[refusal.reason] ?? { code: CloseCode.PROTOCOL_ERROR, reason: refusal.reason };
    this.close(close.code, close.reason);
  }

  onClose(code: number, reasonBytes: Buffer): void {
    const { phase, config } = this;
    if (phase === CLOSED) return;
    if (phase.name === 'awaiting-params') clearTimeout(phase.timer);
    this.phase = CLOSED;
    if (this.slowConsumerTimer) clearTimeout(this.slowConsumerTimer);
    for (const call of this.calls.values()) call.stop();
    this.calls.clear();
    config.gate.release(this);
    this.req = null;
    config.metrics.connectionsClosed++;
    config.heartbeat.delete(this);
    config.onClosed(this);
    for (const waiter of this.closeWaiters ?? []) waiter();
    this.closeWaiters = null;
    logClose(config.logger, { connectionId: this.connectionId, ip: this.address, openedAt: this.openedAt }, code, reasonBytes, this.endedBy);
  }

  onError(error: Error): void {
    const code = (error as { code?: unknown }).code;
    // `ws` refused a frame over `maxPayload` (the same bound) while reading it: counted by the gate like any oversized input.
    if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.config.gate.checkPayload(Number.POSITIVE_INFINITY);
    else this.config.metrics.error(typeof code === 'string' ? code : 'SOCKET_ERROR');
    // A protocol violation: `ws` closes the socket itself with this code, so the close is logged as the server's.
    const closeCode = wsCloseCodeOf(error);
    if (closeCode !== null) this.endedBy ??= { code: closeCode, reason: error.message };
    this.config.runner.report(error, UNKNOWN_CONTEXT);
  }
}
