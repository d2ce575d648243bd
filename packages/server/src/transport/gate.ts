import type { TRPCError } from '@trpc/server';
import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { Logger } from 'pino';
import type { Identity } from '../auth/identity.js';
import { HeraldError, RefusalReason } from '../errors.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { ConnectionTransport } from '../observability/serverEvents.js';
import { isThenable } from '../thenable.js';
import { Admission, ANONYMOUS, isRefusal, type AdmissionSettings, type ConnectionParams } from './admission.js';
import type { OriginCheck } from './clientAddress.js';
import { TokenBuckets } from './rateLimiter.js';
import { RefusalLog } from './refusalLog.js';
import type { HeraldRequest, RequestHead } from './requestHead.js';
import { ConnectionSlots, KeyedCounter } from './slots.js';
import { lastingId } from '../ids.js';

/**
 * A new connection id (`createContext`'s `connectionId`): random, so it is
 * unique across nodes and restarts, and names no one.
 */
export function newConnectionId(): string {
  return lastingId();
}

/** A request or connection turned away: why (the metrics label), and what its caller is told, naming what to do. */
/** What a refusal is about, for its log line and the admin page's event log (each field when the door knows it). */
export interface RefusalDetail {
  readonly address?: string;
  readonly origin?: string;
  readonly connectionId?: string;
  readonly userKey?: string | null;
  readonly transport?: ConnectionTransport;
}

export interface Refusal {
  readonly reason: RefusalReason;
  readonly error: TRPCError;
}

/** Who pays for a request: its user, or its address when anonymous. */
export interface Caller {
  readonly userKey: string | null;
  readonly address: string;
}

/** A caller let in: who it is, its context, and until when it is trusted. */
export interface Admitted {
  readonly ok: true;
  readonly identity: Identity;
  /** The key it counts under (`userKey`), or null when anonymous. */
  readonly userKey: string | null;
  readonly ctx: unknown;
  /** When its credentials stop being trusted (expiry plus grace), in ms; 0 when they do not expire. */
  readonly trustedUntil: number;
}

/**
 * What admission decided: let in, refused (a `Refusal`, counted), or failed
 * (`createContext` threw something that is not a refusal: a server fault,
 * answered with its error, reported, not counted as a refusal).
 */
export type AdmissionOutcome = Admitted | { readonly ok: false; readonly refusal: Refusal } | { readonly ok: false; readonly refusal: null; readonly error: TRPCError };

/** The error a caller that was not admitted is answered with. */
export function notAdmittedError(outcome: Exclude<AdmissionOutcome, Admitted>): TRPCError {
  return outcome.refusal ? outcome.refusal.error : outcome.error;
}

export interface GateSettings extends Omit<AdmissionSettings, 'countFailure'> {
  /** The `allowedOrigins` check, or null when every origin may call. */
  readonly originAllowed: OriginCheck | null;
  readonly isDraining: () => boolean;
  readonly maxConnections: number;
  readonly maxConnectionsPerIp: number;
  readonly maxConnectionsPerUser: number;
  readonly maxBatchSize: number;
  readonly maxPayloadBytes: number;
  /** Calls in HTTP requests one address may have in progress at once (a batch of N counts N). */
  readonly maxHttpCallsPerIp: number;
  /** Size of one HTTP answer, in characters of its JSON. */
  readonly maxHttpAnswerBytes: number;
  /** Bytes of HTTP answers one address may have the server hold at once (built, not yet taken). */
  readonly maxHttpAnswerBytesPerIp: number;
  readonly maxSubscriptionsPerConnection: number;
  /** Requests per user (per address when anonymous) on this node, or null for no limit. */
  readonly rate: { readonly perSecond: number; readonly burst: number } | null;
  /** Failed authentications per address, or null for no limit. */
  readonly failedAttempts: { readonly perSecond: number; readonly burst: number } | null;
  /** Time past an identity's expiry before it is no longer trusted. */
  readonly expiryGraceMs: number;
  /** When the user `userKey`'s sessions were revoked, while that is in force (`server.disconnectUser`); else null. */
  readonly revokedAt?: (userKey: string) => number | null;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

/**
 * Every decision about a request, in one place, for every door (the
 * WebSocket, the HTTP fallback and its event streams, the admin socket and
 * API): may it enter (drain, origin, failed authentications), may it hold a
 * connection (in total, per address, per user: a WebSocket and an event
 * stream count alike, keyed by the authenticated user, never by what its
 * params say), who is it (`authenticate`, `createContext`), is it still
 * trusted (expiry), may it run now (the request budget per user, or per
 * address when anonymous; batch size; subscriptions held).
 *
 * Each answer is null (go on) or a `Refusal`, counted in metrics by reason;
 * a door only maps the reason to its own form (an upgrade's HTTP status, a
 * close code, an error frame, an HTTP error), the table in
 * test/gate.test.ts runs every reason through every door.
 */
export class RequestGate {
  private readonly admission: Admission;
  private readonly slots: ConnectionSlots;
  private readonly httpCalls: KeyedCounter;
  private readonly httpAnswers: KeyedCounter;
  private readonly requests: { readonly byUser: TokenBuckets; readonly byAddress: TokenBuckets } | null;
  private readonly failures: TokenBuckets | null;
  private readonly now: () => number;
  private readonly log: RefusalLog;

  constructor(private readonly settings: GateSettings) {
    const now = (this.now = settings.now ?? Date.now);
    this.log = new RefusalLog(settings.logger, now);
    this.admission = new Admission({ ...settings, countFailure: (address) => this.countFailure(address) });
    this.slots = new ConnectionSlots(settings.maxConnections, settings.maxConnectionsPerIp, settings.maxConnectionsPerUser);
    this.httpCalls = new KeyedCounter(settings.maxHttpCallsPerIp);
    this.httpAnswers = new KeyedCounter(settings.maxHttpAnswerBytesPerIp);
    const { rate, failedAttempts } = settings;
    this.requests = rate
      ? { byUser: new TokenBuckets(rate.perSecond, rate.burst, now()), byAddress: new TokenBuckets(rate.perSecond, rate.burst, now()) }
      : null;
    this.failures = failedAttempts ? new TokenBuckets(failedAttempts.perSecond, failedAttempts.burst, now()) : null;
  }

  /** Connections held now (WebSockets and event streams). */
  get connectionCount(): number {
    return this.slots.count;
  }

  /** Time past an identity's expiry before it is no longer trusted (`auth.expiryGraceMs`). */
  get expiryGraceMs(): number {
    return this.settings.expiryGraceMs;
  }

  /** Whether there is an `authenticate` to run: without one every caller is anonymous, known at once. */
  get authenticates(): boolean {
    return this.admission.authenticates;
  }

  /** A refusal for `reason`, counted: for what a door detects itself (a params timeout, an oversized frame). */
  refuse(reason: RefusalReason, error: TRPCError, detail?: RefusalDetail): Refusal {
    this.settings.metrics.refusal(reason);
    this.log.refused(reason, error.message, detail);
    this.settings.metrics.events.emit(() => ({
      kind: reason === RefusalReason.REVOKED ? 'revocation' : reason === RefusalReason.SLOW_HTTP_CLIENT ? 'slow-consumer' : 'refusal',
      reason,
      connectionId: detail?.connectionId ?? null,
      userKey: detail?.userKey ?? null,
      address: detail?.address ?? null,
      transport: detail?.transport ?? null,
    }));
    return { reason, error };
  }

  /** A connection (a WebSocket, an event stream) was admitted: told to the admin page's event log. */
  connected(detail: RefusalDetail): void {
    this.settings.metrics.events.emit(() => ({
      kind: 'connect',
      reason: null,
      connectionId: detail.connectionId ?? null,
      userKey: detail.userKey ?? null,
      address: detail.address ?? null,
      transport: detail.transport ?? null,
    }));
  }

  /** The checks before any work: drain, origin, and the address's failed authentications. */
  enter(req: RequestHead, address: string): Refusal | null {
    if (this.settings.isDraining()) {
      return this.refuse(RefusalReason.DRAINING, new HeraldError('SERVER_CLOSING', 'The server is shutting down; reconnect to another node'));
    }
    const origin = req.headers.origin;
    const { originAllowed } = this.settings;
    if (originAllowed && origin !== undefined && !originAllowed(origin, req)) {
      return this.refuse(
        RefusalReason.ORIGIN,
        new HeraldError('FORBIDDEN', `Origin ${origin} may not call this server; add it to the server's allowedOrigins`),
        { address, origin },
      );
    }
    if (!this.mayAuthenticate(address)) {
      return this.refuse(
        RefusalReason.AUTH_FAILURES,
        new HeraldError('LIMIT_EXCEEDED', 'Too many failed authentications from this address; sign in again and retry later'),
        { address },
      );
    }
    return null;
  }

  /** False once `address` failed authentication more often than `auth.failedAttempts` allows. */
  mayAuthenticate(address: string): boolean {
    return this.failures?.available(address, this.now()) ?? true;
  }

  /** `authenticate` alone (a refusal counts against `address` and throws `UNAUTHORIZED`): for what needs the identity, not a context. */
  authenticate(params: ConnectionParams | null, req: HeraldRequest, address: string): Promise<Identity> {
    return this.admission.authenticate(params, req, address);
  }

  /** The key `user` counts under (`userKey`), or null when anonymous. */
  userKeyOf(user: unknown): string | null {
    return this.admission.userKeyOf(user);
  }

  /** Counts a failed authentication of `address` that did not go through `authenticate` (a refused stream ticket). */
  countFailure(address: string): void {
    this.failures?.take(address, this.now());
  }

  /** Takes a connection slot for `address` (in total and per address); `closeConnection` gives it back. */
  openConnection(address: string): Refusal | null {
    const met = this.slots.acquireAddress(address);
    if (met === null) return null;
    if (met === 'total') {
      return this.refuse(
        RefusalReason.MAX_CONNECTIONS,
        new HeraldError('LIMIT_EXCEEDED', 'The server holds as many connections as it may; retry later or connect to another node'),
      );
    }
    return this.refuse(
      RefusalReason.MAX_CONNECTIONS_PER_IP,
      new HeraldError('LIMIT_EXCEEDED', `At most ${this.settings.maxConnectionsPerIp} connections per address; close one first`),
      { address },
    );
  }

  closeConnection(address: string): void {
    this.slots.releaseAddress(address);
  }

  /**
   * Takes `count` calls of an HTTP request from its address's share
   * (`maxHttpCallsPerIp`) until `endHttpCalls`: what bounds the answers one
   * address can have the server build and hold at once.
   */
  beginHttpCalls(address: string, count: number): Refusal | null {
    // An address whose clients have not taken the answers they asked for gets no more work done for it.
    if (this.httpAnswers.count(address) >= this.settings.maxHttpAnswerBytesPerIp) return this.answersHeldRefusal(address);
    if (this.httpCalls.acquire(address, count)) return null;
    return this.refuse(
      RefusalReason.MAX_HTTP_CALLS_PER_IP,
      new HeraldError('LIMIT_EXCEEDED', `At most ${this.settings.maxHttpCallsPerIp} HTTP calls in progress per address; wait for their answers`),
      { address },
    );
  }

  endHttpCalls(address: string, count: number): void {
    this.httpCalls.release(address, count);
  }

  /**
   * One HTTP answer grown to `bytes` (characters of its JSON) while it is
   * built: over `maxHttpAnswerBytes`, refused as PAYLOAD_TOO_LARGE before
   * the whole of it is made.
   */
  checkHttpAnswer(bytes: number): Refusal | null {
    const max = this.settings.maxHttpAnswerBytes;
    if (bytes <= max) return null;
    return this.refuse(
      RefusalReason.MAX_HTTP_ANSWER,
      new HeraldError(
        'PAYLOAD_TOO_LARGE',
        `An HTTP answer may carry at most ${max} bytes (maxHttpAnswerBytes); ask for less in one request (smaller batches), or use httpBatchStreamLink, which streams each call's answer`,
      ),
    );
  }

  /**
   * Takes `bytes` of answers from `address`'s share (`maxHttpAnswerBytesPerIp`)
   * until `releaseHttpAnswer`: what bounds the answers one address can have
   * the server hold when its clients do not read them.
   */
  holdHttpAnswer(address: string, bytes: number): Refusal | null {
    return this.httpAnswers.acquire(address, bytes) ? null : this.answersHeldRefusal(address);
  }

  releaseHttpAnswer(address: string, bytes: number): void {
    this.httpAnswers.release(address, bytes);
  }

  /**
   * Admits a caller: `authenticate` decides its user (a refusal counts
   * against `address`), a connection (`holdsSlot`) takes a slot of its user,
   * then `createContext` builds the context (given `connectionId`, see
   * `newConnectionId`). Decided at once, without a promise, when neither
   * `authenticate` nor `createContext` returns one. An admitted connection
   * gives its user slot back with `release`.
   */
  admit(
    params: ConnectionParams | null,
    req: HeraldRequest,
    address: string,
    holdsSlot: boolean,
    connectionId: string,
  ): AdmissionOutcome | Promise<AdmissionOutcome> {
    const { admission } = this;
    if (!admission.authenticates) return this.enterAs(ANONYMOUS, params, req, holdsSlot, connectionId);
    return admission.authenticate(params, req, address).then(
      (identity) => this.enterAs(identity, params, req, holdsSlot, connectionId),
      (cause: unknown) => ({ ok: false as const, refusal: this.refuse(RefusalReason.UNAUTHORIZED, getTRPCErrorFromUnknown(cause)) }),
    );
  }

  /** Gives back the user slot an admitted connection took. */
  release(admitted: { readonly userKey: string | null }): void {
    if (admitted.userKey !== null) this.slots.releaseUser(admitted.userKey);
  }

  /**
   * An in-band refresh: `authenticate` and `createContext` again with new
   * params. The user must stay the same, and so does the connection's id. A refusal (counted as
   * REFRESH_REFUSED) changes nothing: the caller stays trusted until its old expiry.
   */
  async refresh(params: ConnectionParams | null, req: HeraldRequest, address: string, userKey: string | null, connectionId: string): Promise<Admitted | Refusal> {
    const { admission } = this;
    try {
      const identity = await admission.authenticate(params, req, address);
      const key = admission.userKeyOf(identity.user);
      if (key !== userKey) {
        throw new HeraldError('UNAUTHORIZED', "A refresh must keep the connection's user; reconnect to sign in as someone else");
      }
      const revoked = this.revocationOf(identity, key);
      if (revoked) return revoked;
      const ctx = await admission.createContext(params, req, identity.user, connectionId);
      return { ok: true, identity, userKey: key, ctx, trustedUntil: this.trustedUntilOf(identity) };
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      return this.refuse(RefusalReason.REFRESH_REFUSED, error instanceof HeraldError ? error : new HeraldError('UNAUTHORIZED', error.message, { cause }));
    }
  }

  /** Whether a caller trusted until `trustedUntil` (0: for ever) no longer is; reads the clock only for credentials that expire. */
  expired(trustedUntil: number): boolean {
    return trustedUntil !== 0 && this.now() >= trustedUntil;
  }

  /** The refusal for a caller whose credentials expired (see `expired`). */
  expiredRefusal(): Refusal {
    return this.refuse(RefusalReason.TOKEN_EXPIRED, new HeraldError('TOKEN_EXPIRED', "The connection's credentials expired; reconnect with fresh connectionParams"));
  }

  /** Takes `count` requests from the caller's budget (`limits.rate`: its user's, or its address's when anonymous). */
  takeRequests(caller: Caller, count = 1): Refusal | null {
    const requests = this.requests;
    if (!requests) return null;
    const buckets = caller.userKey === null ? requests.byAddress : requests.byUser;
    const key = caller.userKey ?? caller.address;
    const now = this.now();
    for (let taken = 0; taken < count; taken++) {
      if (!buckets.take(key, now)) return this.rateRefusal();
    }
    return null;
  }

  /** A frame or HTTP request batching `count` calls. */
  checkBatch(count: number): Refusal | null {
    const max = this.settings.maxBatchSize;
    if (count <= max) return null;
    return this.refuse(RefusalReason.MAX_BATCH_SIZE, new HeraldError('LIMIT_EXCEEDED', `A request may batch at most ${max} calls; send smaller batches`));
  }

  /**
   * A frame or body of `bytes` (when its size is known before it is read):
   * over `maxPayloadBytes`, refused as PAYLOAD_TOO_LARGE. The WebSocket door
   * reports what `ws` refused while reading (its own `maxPayload`, the same
   * number) here too, so every oversized input is counted alike.
   */
  checkPayload(bytes: number): Refusal | null {
    const max = this.settings.maxPayloadBytes;
    if (bytes <= max) return null;
    return this.refuse(
      RefusalReason.MAX_PAYLOAD,
      new HeraldError('PAYLOAD_TOO_LARGE', `A request may carry at most ${max} bytes (maxPayloadBytes); send less`),
    );
  }

  /** One more subscription on a connection that holds `held`. */
  checkSubscriptions(held: number): Refusal | null {
    const max = this.settings.maxSubscriptionsPerConnection;
    if (held < max) return null;
    return this.refuse(RefusalReason.MAX_SUBSCRIPTIONS, new HeraldError('LIMIT_EXCEEDED', `A connection may hold at most ${max} subscriptions; stop one first`));
  }

  private answersHeldRefusal(address: string): Refusal {
    return this.refuse(
      RefusalReason.MAX_HTTP_ANSWER_BYTES_PER_IP,
      new HeraldError(
        'LIMIT_EXCEEDED',
        `At most ${this.settings.maxHttpAnswerBytesPerIp} bytes of HTTP answers not yet taken per address (maxHttpAnswerBytesPerIp); read the answers asked for before asking for more`,
      ),
      { address },
    );
  }

  private rateRefusal(): Refusal {
    const rate = this.settings.rate;
    return this.refuse(
      RefusalReason.RATE,
      new HeraldError('LIMIT_EXCEEDED', `Rate limit: at most ${rate?.perSecond} requests per second (bursts of ${rate?.burst}); retry after a pause`),
    );
  }

  /** The REVOKED refusal for credentials issued before their user's revocation (all of them when their issue time is not known). */
  private revocationOf(identity: Identity, userKey: string | null): Refusal | null {
    const revokedAt = userKey === null ? null : (this.settings.revokedAt?.(userKey) ?? null);
    if (revokedAt === null || (identity.issuedAt !== null && identity.issuedAt > revokedAt)) return null;
    return this.refuse(
      RefusalReason.REVOKED,
      new HeraldError('UNAUTHORIZED', "This user's sessions were revoked; sign in again for new credentials"),
      { userKey },
    );
  }

  private trustedUntilOf(identity: Identity): number {
    return identity.expiresAt === null ? 0 : identity.expiresAt + this.settings.expiryGraceMs;
  }

  private enterAs(
    identity: Identity,
    params: ConnectionParams | null,
    req: HeraldRequest,
    holdsSlot: boolean,
    connectionId: string,
  ): AdmissionOutcome | Promise<AdmissionOutcome> {
    const { admission } = this;
    const userKey = admission.userKeyOf(identity.user);
    const trustedUntil = this.trustedUntilOf(identity);
    // Credentials `authenticate` accepted but that expired already (their grace included), or were revoked.
    if (this.expired(trustedUntil)) return { ok: false, refusal: this.expiredRefusal() };
    const revoked = this.revocationOf(identity, userKey);
    if (revoked) return { ok: false, refusal: revoked };
    if (holdsSlot && userKey !== null && !this.slots.acquireUser(userKey)) {
      return {
        ok: false,
        refusal: this.refuse(
          RefusalReason.MAX_CONNECTIONS_PER_USER,
          new HeraldError('LIMIT_EXCEEDED', 'This user holds as many connections as it may; close one first'),
        ),
      };
    }
    const admitted = (ctx: unknown): Admitted => ({ ok: true, identity, userKey, ctx, trustedUntil });
    const failed = (cause: unknown): AdmissionOutcome => {
      if (holdsSlot && userKey !== null) this.slots.releaseUser(userKey);
      const error = getTRPCErrorFromUnknown(cause);
      if (!isRefusal(cause)) return { ok: false, refusal: null, error };
      return { ok: false, refusal: this.refuse(RefusalReason.UNAUTHORIZED, error) };
    };
    let ctx: unknown;
    try {
      ctx = admission.createContext(params, req, identity.user, connectionId);
    } catch (cause) {
      return failed(cause);
    }
    return isThenable(ctx) ? Promise.resolve(ctx).then(admitted, failed) : admitted(ctx);
  }
}
