import type { IncomingMessage } from 'node:http';
import { getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { parseConnectionParamsFromUnknown } from '@trpc/server/http';
import { CloseCode } from '@herald/shared';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { HeraldError, RefusalReason } from '../errors.js';
import type { Identity } from '../auth/identity.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { HeraldServerOptions } from '../options.js';
import { ANONYMOUS, isRefusal, stringParams, type Admission, type ConnectionParams } from '../transport/admission.js';
import type { IdempotentCalls } from '../transport/idempotentCall.js';
import { stop, type Call } from './calls.js';
import { beforeWrite, type WriteTicks } from './cork.js';
import { dispatch, envelopeOfRequest, errorCodeOf, messageOf, UNKNOWN_CONTEXT } from './dispatch.js';
import type { HeartbeatPeer } from './heartbeat.js';
import { OpeningSubscriptions } from './ordering.js';
import { frameWriterFor, PreparedFrame, type FrameWriter } from './preparedFrame.js';
import { NULL_ENVELOPE, type Envelope, type ErrorContext, type Wire } from './wire.js';

export interface ConnectionLimits {
  /** Subscriptions one connection may hold at once. */
  readonly maxSubscriptions: number;
  /** Requests one frame may batch. */
  readonly maxBatchSize: number;
  /** Bytes queued for one socket before it is closed as a slow consumer. */
  readonly maxBufferedBytes: number;
  /** Time a client has to send its `connectionParams` after the upgrade. */
  readonly connectionParamsTimeoutMs: number;
  /** Requests per second and burst (`limits.rate`, kept per user by `Admission`), or null for no rate limit. */
  readonly rate: { readonly perSecond: number; readonly burst: number } | null;
  /** Time past an identity's expiry before the connection is no longer trusted. */
  readonly expiryGraceMs: number;
}

/**
 * What every connection of one server shares: built once by the handler, so
 * a connection holds a reference, not a copy or closures of its own (a
 * per-connection closure here would keep each upgrade request alive).
 */
export interface ConnectionConfig<TRouter extends AnyRouter> {
  readonly router: TRouter;
  readonly wire: Wire;
  readonly admission: Admission;
  readonly idempotentCalls: IdempotentCalls;
  readonly onError: HeraldServerOptions<TRouter>['onError'];
  readonly limits: ConnectionLimits;
  /** permessage-deflate settings (what a shared compressed frame needs), or null when it is off. */
  readonly compression: { readonly threshold: number; readonly level: number } | null;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** A query or mutation finished (the drain waits for the last one). */
  readonly onAnswered: () => void;
  readonly onClosed: (connection: Connection<TRouter>) => void;
}

/** Who a connection is, for logs. */
export interface ConnectionIdentity {
  /** Numbered per server: `c<number>` in logs. */
  readonly number: number;
  /** The client's address (the proxy's `X-Forwarded-For` entry with `trustProxy`). */
  readonly ip: string;
}

/** One connection as the admin page shows it (`Connection.describe`). */
export interface ConnectionSummary {
  /** `c<number>`, numbered per server. */
  readonly connectionId: string;
  readonly userKey: string | null;
  /** The client's address. */
  readonly address: string;
  /** When the socket opened, in ms since the epoch. */
  readonly connectedAt: number;
  /** The procedure path of each subscription it holds. */
  readonly subscriptions: string[];
}

/**
 * How long a slow consumer's socket may take to close after its 4002 close
 * frame (queued behind everything it did not read) before it is destroyed:
 * a peer that stopped reading will not read the close frame either, and its
 * send buffer is memory the server wants back.
 */
const SLOW_CONSUMER_GRACE_MS = 1_000;

/**
 * One WebSocket speaking tRPC's wire protocol: its lifecycle (connection
 * params, admission, close), its writes (batched per tick, bounded by the
 * slow-consumer limit) and its incoming frames (`PING`/`PONG`, JSON, batches).
 * Each request goes to `dispatch` (dispatch.ts); subscriptions live in
 * subscriptions.ts. The members those two use are public; nothing outside
 * `ws/` touches them.
 */
export class Connection<TRouter extends AnyRouter> implements HeartbeatPeer, WriteTicks {
  lastSeenAt = Date.now();
  lastWriteTick = 0;
  pingSentAt = 0;
  heartbeatSlot = -1;
  /** When the credentials stop being trusted (their expiry plus the grace), in ms; 0 when they do not expire. */
  trustedUntil = 0;
  /** Settles once admission is decided: true when admitted (`ctx` is set), false when refused. */
  admitted: Promise<boolean> | null = null;
  /** Admission is decided: requests go straight to `dispatch` (before, they wait for it, in order). */
  private settled = false;
  /** Admission is decided and the connection admitted: a call need not wait for `admitted`. */
  admittedNow = false;
  /** The context every call on this connection shares, once admitted. */
  ctx: unknown = undefined;
  /** Calls running or open, by request envelope. */
  readonly calls = new Map<Envelope, Call>();
  /** Subscriptions not live yet: the queries and mutations sent after them wait for them (ordering.ts). */
  readonly opening = new OpeningSubscriptions();
  closed = false;
  /** Queries and mutations not answered yet (what a drain waits for). */
  unanswered = 0;
  private paramsTimer: NodeJS.Timeout | null = null;
  private slowConsumerTimer: NodeJS.Timeout | null = null;
  /** The key of the user this connection belongs to (it holds a user slot under it), or null when anonymous. */
  userKey: string | null = null;
  /** An in-band refresh in progress; the next one waits for it. */
  private refreshing: Promise<void> | null = null;
  /** Why the server ended the connection, when it did (for the close log line). */
  private endedBy: { code: number; reason: string } | null = null;
  private readonly openedAt = Date.now();
  private readonly writeFrame: FrameWriter;
  /**
   * The upgrade request, kept until `authenticate` and `createContext` have
   * seen it (it is a few KiB per socket), and for as long as the credentials
   * expire, since an in-band refresh runs them again with it.
   */
  private req: IncomingMessage | null;

  private readonly number: number;
  private readonly ip: string;

  constructor(
    readonly socket: WebSocket,
    req: IncomingMessage,
    readonly config: ConnectionConfig<TRouter>,
    identity: ConnectionIdentity,
  ) {
    this.number = identity.number;
    this.ip = identity.ip;
    this.req = req;
    this.writeFrame = frameWriterFor(socket, config.compression);
    socket.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    socket.on('close', (code, reason) => this.onClose(code, reason));
    // `ws` reports protocol violations (bad UTF-8, oversized frames) here and
    // then closes the socket itself; without a listener they would crash the process.
    socket.on('error', (error) => this.onSocketError(error));
    config.metrics.connectionsOpened++;
    // Checked first: a silenced logger must not cost each connection its log record.
    if (config.logger.isLevelEnabled('info')) {
      config.logger.info(
        { event: 'connection.open', connectionId: this.connectionId, ip: this.ip, origin: req.headers.origin ?? null },
        'connection opened',
      );
    }

    if (wantsConnectionParams(req.url)) {
      this.paramsTimer = setTimeout(() => {
        this.refuse(
          new HeraldError('UNAUTHORIZED', 'No connectionParams arrived in time; send them as the first frame'),
          CloseCode.UNAUTHORIZED,
          'connectionParams timeout',
          RefusalReason.CONNECTION_PARAMS_TIMEOUT,
        );
      }, config.limits.connectionParamsTimeoutMs);
    } else {
      this.startAdmission(null);
    }
  }

  /** This connection's name in logs. */
  get connectionId(): string {
    return `c${this.number}`;
  }

  get subscriptionCount(): number {
    let count = 0;
    for (const call of this.calls.values()) if (call.type === 'subscription') count++;
    return count;
  }

  /** Who this connection is and what it subscribes to (procedure paths), for the admin page. */
  describe(): ConnectionSummary {
    const subscriptions: string[] = [];
    for (const call of this.calls.values()) {
      if (call.type === 'subscription') subscriptions.push(('path' in call ? call.path : undefined) ?? '(subscription)');
    }
    return { connectionId: this.connectionId, userKey: this.userKey, address: this.ip, connectedAt: this.openedAt, subscriptions };
  }

  /** Registers a running call or an open subscription under its request envelope. */
  track(envelope: Envelope, call: Call): void {
    this.calls.set(envelope, call);
  }

  /** Drops `call` from the calls, unless another entry took its envelope meanwhile. */
  forget(envelope: Envelope, call: Call): void {
    if (this.calls.get(envelope) === call) this.calls.delete(envelope);
  }

  /** A query or mutation was answered (or failed). */
  answered(): void {
    this.unanswered--;
    this.config.onAnswered();
  }

  /** Takes a request from the caller's budget (`limits.rate`: its user's, or its address's when anonymous); false when it is spent. */
  takeRateToken(): boolean {
    return this.config.admission.takeRequest(this.userKey, this.ip);
  }

  /** Whether the credentials expired (grace included); reads the clock only for credentials that expire. */
  get expired(): boolean {
    return this.trustedUntil !== 0 && Date.now() >= this.trustedUntil;
  }

  /** Ends a connection whose credentials expired: the client reconnects with fresh ones and resumes. */
  expire(): void {
    this.refuse(
      new HeraldError('TOKEN_EXPIRED', "The connection's credentials expired; reconnect with fresh connectionParams"),
      CloseCode.TOKEN_EXPIRED,
      'credentials expired',
      RefusalReason.TOKEN_EXPIRED,
    );
  }

  /** Ends a connection whose user's sessions were revoked (`server.disconnectUser`). */
  revoke(reason: string): void {
    this.config.metrics.refusal(RefusalReason.REVOKED);
    this.close(CloseCode.REVOKED, reason);
  }

  ping(): void {
    this.sendPrepared(PING_FRAME);
  }

  /** Drops the socket without a close handshake: by default for a heartbeat timeout, else for a close that took too long. */
  terminate(code: CloseCode = CloseCode.HEARTBEAT_TIMEOUT, reason = 'heartbeat timeout'): void {
    this.endedBy ??= { code, reason };
    this.socket.terminate();
  }

  close(code: CloseCode, reason: string): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) {
      this.endedBy ??= { code, reason };
      this.socket.close(code, reason);
    }
  }

  /** Sends tRPC's reconnect notice: the client opens a new socket and moves its subscriptions there. */
  requestReconnect(): void {
    this.send(this.config.wire.reconnect());
  }

  /**
   * Writes one frame unless the socket is over its buffered-bytes bound: then
   * the peer is not reading, and it is closed with SLOW_CONSUMER instead of
   * letting its queue grow. It resumes from history when it reconnects.
   * `followed`: more frames for this socket follow in the same tick, so this
   * one waits for them (see `beforeWrite`).
   */
  send(text: string, followed = false): void {
    if (!this.writable(followed)) return;
    const byteLength = Buffer.byteLength(text);
    this.config.metrics.bytesOut += byteLength;
    if (!this.writeFrame.text(text, byteLength)) this.socket.send(text, TEXT_FRAME);
  }

  /** `send` for a frame shared by many sockets: written as it was built where the socket allows it. */
  sendPrepared(frame: PreparedFrame): void {
    if (!this.writable()) return;
    this.config.metrics.bytesOut += frame.payload.length;
    if (!this.writeFrame.prepared(frame)) this.socket.send(frame.payload, TEXT_FRAME);
  }

  sendError(envelope: Envelope, error: TRPCError, context: ErrorContext): void {
    this.config.metrics.error(errorCodeOf(error));
    this.send(this.config.wire.error(envelope, error, context, (cause) => this.report(cause, context.type)));
  }

  report(error: unknown, type: string, path?: string): void {
    this.config.onError?.({ error: error instanceof Error ? error : new Error(String(error)), path, type });
  }

  /** Whether a frame may be written now (open, and under the buffered-bytes bound); batches the tick's writes. */
  private writable(followed = false): boolean {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount > this.config.limits.maxBufferedBytes) {
      this.closeSlowConsumer();
      return false;
    }
    // `ws` exposes no cork of its own; its net.Socket has been `_socket` since ws 1.
    const raw = (socket as unknown as { _socket?: Parameters<typeof beforeWrite>[0] })._socket;
    if (raw) beforeWrite(raw, this, followed);
    this.config.metrics.framesOut++;
    return true;
  }

  private closeSlowConsumer(): void {
    this.config.metrics.slowConsumerCloses++;
    this.close(CloseCode.SLOW_CONSUMER, 'slow consumer: send buffer over its bound');
    this.slowConsumerTimer = setTimeout(() => this.socket.terminate(), SLOW_CONSUMER_GRACE_MS);
    this.slowConsumerTimer.unref();
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    this.lastSeenAt = Date.now();
    this.pingSentAt = 0;
    const metrics = this.config.metrics;
    metrics.framesIn++;
    metrics.bytesIn += Array.isArray(data) ? data.reduce((sum, chunk) => sum + chunk.length, 0) : data.byteLength;
    if (isBinary) {
      this.sendError(NULL_ENVELOPE, new TRPCError({ code: 'UNPROCESSABLE_CONTENT', message: 'Herald expects text frames of JSON' }), UNKNOWN_CONTEXT);
      return;
    }
    // Heartbeats are most of an idle server's frames: told apart by their bytes, answered with a frame built once.
    const heartbeat = heartbeatOf(data);
    if (heartbeat === PING) return this.sendPrepared(PONG_FRAME);
    if (heartbeat === PONG) return;
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString();
    // The same in fragments (which no known client sends).
    if (text === 'PING') return this.sendPrepared(PONG_FRAME);
    if (text === 'PONG') return;

    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      this.sendError(NULL_ENVELOPE, new TRPCError({ code: 'PARSE_ERROR', message: 'The frame is not valid JSON', cause }), UNKNOWN_CONTEXT);
      return;
    }

    if (!this.admitted) {
      this.acceptConnectionParams(parsed);
      return;
    }
    if (isConnectionParams(parsed)) {
      this.refresh(parsed);
      return;
    }

    const messages = Array.isArray(parsed) ? parsed : [parsed];
    const maxBatchSize = this.config.limits.maxBatchSize;
    if (messages.length > maxBatchSize) {
      // Every request of the batch is answered, under its own id, so each call settles.
      metrics.refusal(RefusalReason.MAX_BATCH_SIZE);
      const error = new HeraldError('LIMIT_EXCEEDED', `A frame may batch at most ${maxBatchSize} requests; send smaller batches`);
      refuseEach(this, messages, error);
      return;
    }
    if (this.settled) {
      messages.forEach((message, index) => dispatch(this, message, index));
      return;
    }
    // Requests sent before admission is decided wait for it, in the order
    // they came: they then spend the user's request budget (not the
    // address's), and a refused connection answers none of them.
    void this.admitted.then((admitted) => {
      if (admitted) messages.forEach((message, index) => dispatch(this, message, index));
    });
  }

  private acceptConnectionParams(parsed: unknown): void {
    if (this.paramsTimer) clearTimeout(this.paramsTimer);
    this.paramsTimer = null;
    let params: ConnectionParams | null;
    try {
      if (!isConnectionParams(parsed)) throw new Error('the first frame must be {"method":"connectionParams","data":{...}}');
      params = paramsOf(parsed);
    } catch (cause) {
      this.sendError(
        NULL_ENVELOPE,
        new TRPCError({ code: 'PARSE_ERROR', message: `Malformed connectionParams: ${messageOf(cause)}`, cause }),
        UNKNOWN_CONTEXT,
      );
      this.close(CloseCode.PROTOCOL_ERROR, 'malformed connectionParams');
      this.admitted = Promise.resolve(false);
      return;
    }
    this.startAdmission(params);
  }

  private startAdmission(params: ConnectionParams | null): void {
    const admitted = this.admit(params);
    this.admitted = admitted;
    void admitted.then((ok) => {
      this.settled = true;
      this.admittedNow = ok;
    });
  }

  /**
   * Admits the connection: `authenticate` decides its user, the user limit
   * is checked, then `createContext` builds the context. Requests that
   * arrive meanwhile wait for this; any refusal answers them with nothing
   * (the socket is closing) and ends the connection.
   */
  private async admit(params: ConnectionParams | null): Promise<boolean> {
    const req = this.req!;
    this.req = null;
    const admission = this.config.admission;
    let identity: Identity;
    try {
      // Without `authenticate` the connection is anonymous: known at once, nothing to wait for.
      identity = admission.authenticates ? await admission.authenticate(params, req, this.ip) : ANONYMOUS;
    } catch (error) {
      this.refuse(error as TRPCError, CloseCode.UNAUTHORIZED, 'unauthorized', RefusalReason.UNAUTHORIZED);
      return false;
    }
    if (this.closed) return false;
    const { user } = identity;
    const key = admission.userKeyOf(user);
    if (key !== null) {
      if (!admission.acquireUserSlot(key)) {
        this.refuse(
          new HeraldError('LIMIT_EXCEEDED', 'This user holds as many connections as it may; close one first'),
          CloseCode.LIMIT_EXCEEDED,
          'too many connections for this user',
          RefusalReason.MAX_CONNECTIONS_PER_USER,
        );
        return false;
      }
      this.userKey = key;
    }
    try {
      const ctx = admission.createContext(params, req, user);
      this.ctx = ctx instanceof Promise ? await ctx : ctx;
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      this.report(error, 'unknown');
      if (isRefusal(cause)) {
        this.refuse(error, CloseCode.UNAUTHORIZED, 'unauthorized', RefusalReason.UNAUTHORIZED);
      } else {
        this.sendError(NULL_ENVELOPE, error, UNKNOWN_CONTEXT);
        this.close(CloseCode.INTERNAL_ERROR, 'createContext failed');
      }
      return false;
    }
    this.trust(identity, req);
    return true;
  }

  /**
   * Takes the identity's expiry: the heartbeat sweep and `dispatch` stop
   * trusting the connection after it (plus the grace). The client hears how
   * long that is, so it can refresh in time without a clock of its own.
   */
  private trust(identity: Identity, req: IncomingMessage): void {
    if (identity.expiresAt === null) {
      this.trustedUntil = 0;
      this.req = null;
      return;
    }
    this.trustedUntil = identity.expiresAt + this.config.limits.expiryGraceMs;
    this.req = req;
    this.send(this.config.wire.session(identity.expiresAt - Date.now(), null));
  }

  /** An in-band refresh: fresh `connectionParams` on the open socket. One runs at a time, in arrival order. */
  private refresh(parsed: { data?: unknown }): void {
    const previous = this.refreshing ?? Promise.resolve();
    const next = previous.then(() => this.reauthenticate(parsed));
    this.refreshing = next;
    void next.finally(() => {
      if (this.refreshing === next) this.refreshing = null;
    });
  }

  /**
   * Runs `authenticate` and `createContext` again with the new params: same
   * socket, same subscriptions, new expiry. The user must stay the same. Each
   * open channel subscription is authorized again with the new context; one
   * that no longer is ends with FORBIDDEN while the others go on. A refused
   * refresh changes nothing: the connection ends at its old expiry.
   */
  private async reauthenticate(parsed: { data?: unknown }): Promise<void> {
    const req = this.req;
    if (this.closed) return;
    if (!req) {
      this.refuseRefresh(new HeraldError('UNAUTHORIZED', "This connection's credentials do not expire; there is nothing to refresh"));
      return;
    }
    const admission = this.config.admission;
    let params: ConnectionParams | null;
    let identity: Identity;
    let ctx: unknown;
    try {
      params = paramsOf(parsed);
      identity = await admission.authenticate(params, req, this.ip);
      const key = admission.userKeyOf(identity.user);
      if (key !== this.userKey) {
        throw new HeraldError('UNAUTHORIZED', "A refresh must keep the connection's user; reconnect to sign in as someone else");
      }
      ctx = await admission.createContext(params, req, identity.user);
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      this.refuseRefresh(error instanceof HeraldError ? error : new HeraldError('UNAUTHORIZED', error.message, { cause }));
      return;
    }
    if (this.closed) return;
    await this.reauthorize(ctx);
    this.ctx = ctx;
    this.trust(identity, req);
  }

  private refuseRefresh(error: HeraldError): void {
    this.config.metrics.refusal(RefusalReason.REFRESH_REFUSED);
    this.config.logger.debug({ event: 'connection.refresh_refused', connectionId: this.connectionId, message: error.message });
    const expiresAt = this.trustedUntil === 0 ? null : this.trustedUntil - this.config.limits.expiryGraceMs;
    this.send(this.config.wire.session(expiresAt === null ? null : expiresAt - Date.now(), error));
  }

  /** Authorizes every open channel subscription with `ctx`; ends those it no longer allows. */
  private async reauthorize(ctx: unknown): Promise<void> {
    const checks: Promise<void>[] = [];
    for (const call of this.calls.values()) {
      if (!('release' in call) || !call.handle) continue;
      checks.push(
        call.handle.authorize(ctx).catch((cause: unknown) => {
          const error = getTRPCErrorFromUnknown(cause);
          this.sendError(call.envelope, error, { type: 'subscription', path: call.path, input: undefined, ctx });
          call.release(false);
        }),
      );
    }
    await Promise.all(checks);
  }

  /** Answers with `error` (a frame without a request id: it concerns the connection), then closes. */
  private refuse(error: TRPCError, code: CloseCode, reason: string, refusal: RefusalReason): void {
    this.config.metrics.refusal(refusal);
    this.config.logger.debug({ event: 'connection.refused', connectionId: this.connectionId, reason: refusal, message: error.message });
    this.sendError(NULL_ENVELOPE, error, UNKNOWN_CONTEXT);
    this.close(code, reason);
  }

  private onClose(code: number, reasonBytes: Buffer): void {
    if (this.closed) return;
    this.closed = true;
    if (this.paramsTimer) clearTimeout(this.paramsTimer);
    if (this.slowConsumerTimer) clearTimeout(this.slowConsumerTimer);
    for (const call of this.calls.values()) stop(call);
    this.calls.clear();
    if (this.userKey !== null) this.config.admission.releaseUserSlot(this.userKey);
    this.req = null;
    this.config.metrics.connectionsClosed++;
    this.config.onClosed(this);
    if (!this.config.logger.isLevelEnabled('info')) return;
    const peerReason = reasonBytes.toString('utf8');
    this.config.logger.info(
      {
        event: 'connection.close',
        connectionId: this.connectionId,
        ip: this.ip,
        code: this.endedBy?.code ?? code,
        reason: this.endedBy?.reason ?? (peerReason || (code === CloseCode.ABNORMAL_CLOSURE ? 'connection lost' : 'closed by client')),
        closedBy: this.endedBy ? 'server' : 'client',
        durationMs: Date.now() - this.openedAt,
      },
      'connection closed',
    );
  }

  private onSocketError(error: Error): void {
    const code = (error as { code?: unknown }).code;
    if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.config.metrics.refusal(RefusalReason.MAX_PAYLOAD);
    else this.config.metrics.error(typeof code === 'string' ? code : 'SOCKET_ERROR');
    this.report(error, 'unknown');
  }
}

/** The heartbeat frames, framed once for every connection. */
const PING_FRAME = new PreparedFrame('PING');
const PONG_FRAME = new PreparedFrame('PONG');
const PING = 1;
const PONG = 2;

/** PING or PONG when `data` is that text frame (read from its bytes, no string made), else 0. */
function heartbeatOf(data: RawData): number {
  if (!Buffer.isBuffer(data) || data.length !== 4 || data[0] !== 0x50 /* P */ || data[3] !== 0x47 /* G */) return 0;
  if (data[1] === 0x49 /* I */ && data[2] === 0x4e /* N */) return PING;
  if (data[1] === 0x4f /* O */ && data[2] === 0x4e /* N */) return PONG;
  return 0;
}

/** Send options of every frame: Herald speaks text frames of JSON (one shared object, not one per send). */
const TEXT_FRAME = { binary: false } as const;

/**
 * Whether the upgrade URL asks to wait for `connectionParams`
 * (`?connectionParams=1`, as tRPC's client sends it): only the query is
 * parsed, and only when there is one.
 */
function wantsConnectionParams(url: string | undefined): boolean {
  const query = url?.indexOf('?') ?? -1;
  if (query < 0) return false;
  const hash = url!.indexOf('#', query);
  return new URLSearchParams(url!.slice(query + 1, hash < 0 ? undefined : hash)).get('connectionParams') === '1';
}

function isConnectionParams(parsed: unknown): parsed is { method: 'connectionParams'; data?: unknown } {
  return typeof parsed === 'object' && parsed !== null && (parsed as { method?: unknown }).method === 'connectionParams';
}

function paramsOf(message: { data?: unknown }): ConnectionParams | null {
  return stringParams(parseConnectionParamsFromUnknown(message.data));
}

/** Answers every request of a refused frame with `error` under its own id (one answer without an id for those that have none). */
function refuseEach<TRouter extends AnyRouter>(connection: Connection<TRouter>, messages: readonly unknown[], error: TRPCError): void {
  let withoutId = false;
  for (const message of messages) {
    const envelope = envelopeOfRequest(message);
    if (envelope === NULL_ENVELOPE) withoutId = true;
    else connection.sendError(envelope, error, UNKNOWN_CONTEXT);
  }
  if (withoutId) connection.sendError(NULL_ENVELOPE, error, UNKNOWN_CONTEXT);
}
