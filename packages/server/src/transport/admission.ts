import type { IncomingMessage } from 'node:http';
import { TRPCError, type AnyRouter } from '@trpc/server';
import { identityOf, type Identity } from '../auth/identity.js';
import { HeraldError } from '../errors.js';
import type { HeraldServerOptions } from '../options.js';
import { TokenBuckets } from './rateLimiter.js';
import { isThenable } from '../thenable.js';

/** Connection params as the app sees them: string values only. */
export type ConnectionParams = Readonly<Record<string, string>>;

/** Where errors go that the app should hear of (`onError`). */
export type ErrorReporter = (error: unknown, type: string, path?: string) => void;

export interface AdmissionSettings {
  readonly authenticate: HeraldServerOptions<AnyRouter, unknown>['authenticate'];
  readonly createContext: HeraldServerOptions<AnyRouter, unknown>['createContext'];
  /** The key a user counts under for `maxConnectionsPerUser`, or null to not count it. */
  readonly userKey: (user: unknown) => string | null;
  readonly maxConnectionsPerUser: number;
  /** Requests per user (per address when anonymous) on this node, or null for no limit. */
  readonly rate: { readonly perSecond: number; readonly burst: number } | null;
  /** Failed authentications per address, or null for no limit. */
  readonly failedAttempts: { readonly perSecond: number; readonly burst: number } | null;
  readonly report: ErrorReporter;
  /** Where a failed `createContext` is logged (it is a server fault, whatever `onError` does). */
  readonly logError: (error: unknown, message: string) => void;
  readonly now?: () => number;
}

/**
 * Who is calling, the same way on both transports: `authenticate` decides
 * the user (and until when it holds) from the connection params and the
 * request, then `createContext` builds the context every call shares. Also
 * keeps what the node counts per caller: connections per user
 * (`maxConnectionsPerUser`), the request budget per user or address
 * (`limits.rate`), and failed authentications per address (`auth.failedAttempts`).
 */
export class Admission {
  private readonly held = new Map<string, number>();
  /** Request budgets of users, and of addresses for anonymous callers (two maps: no key strings to build per request). */
  private readonly requests: { readonly byUser: TokenBuckets; readonly byAddress: TokenBuckets } | null;
  private readonly failures: TokenBuckets | null;
  private readonly now: () => number;

  constructor(private readonly settings: AdmissionSettings) {
    this.now = settings.now ?? Date.now;
    const { rate, failedAttempts } = settings;
    this.requests = rate
      ? { byUser: new TokenBuckets(rate.perSecond, rate.burst, this.now()), byAddress: new TokenBuckets(rate.perSecond, rate.burst, this.now()) }
      : null;
    this.failures = failedAttempts ? new TokenBuckets(failedAttempts.perSecond, failedAttempts.burst, this.now()) : null;
  }

  /**
   * Who `authenticate` says is calling: the user (null when anonymous, or
   * without `authenticate`) and its expiry. A refusal counts against
   * `address` and throws the `UNAUTHORIZED` HeraldError the client should
   * get: a thrown TRPCError's message, else nothing internal (the cause goes
   * to `onError`).
   */
  async authenticate(params: ConnectionParams | null, req: IncomingMessage, address: string): Promise<Identity> {
    if (!this.settings.authenticate) return ANONYMOUS;
    try {
      return identityOf(await this.settings.authenticate(params, req));
    } catch (cause) {
      this.countFailure(address);
      if (!(cause instanceof TRPCError)) this.settings.report(cause, 'authenticate');
      throw authenticationError(cause);
    }
  }

  /** Whether there is an `authenticate` to run: without one every caller is `ANONYMOUS`, known at once. */
  get authenticates(): boolean {
    return this.settings.authenticate !== undefined;
  }

  /** Counts a failed authentication against `address` that did not go through `authenticate` (a refused stream ticket). */
  countFailure(address: string): void {
    this.failures?.take(address, this.now());
  }

  /** False once `address` failed authentication more often than `auth.failedAttempts` allows. */
  mayAuthenticate(address: string): boolean {
    return this.failures?.available(address, this.now()) ?? true;
  }

  /** Takes one request from the budget of the user `userKey`, or of `address` when anonymous; false when it is spent. */
  takeRequest(userKey: string | null, address: string): boolean {
    const requests = this.requests;
    if (!requests) return true;
    return userKey === null ? requests.byAddress.take(address, this.now()) : requests.byUser.take(userKey, this.now());
  }

  /**
   * Runs the app's `createContext`: the context, or a promise of it when
   * `createContext` returns one (callers await it either way). Its errors
   * (thrown, or the promise's rejection) are the caller's to map; one that
   * is not a refusal (UNAUTHORIZED or FORBIDDEN) is a server fault and is
   * logged here.
   */
  createContext(params: ConnectionParams | null, req: IncomingMessage, user: unknown): unknown {
    // Called as it is: a synchronous `createContext` gives its context at once (no promise to wait for).
    let ctx: unknown;
    try {
      ctx = this.settings.createContext({ connectionParams: params, req, user });
    } catch (cause) {
      throw this.contextFailed(cause);
    }
    return isThenable(ctx) ? Promise.resolve(ctx).catch((cause: unknown) => Promise.reject(this.contextFailed(cause))) : ctx;
  }

  private contextFailed(cause: unknown): unknown {
    if (!isRefusal(cause)) this.settings.logError(cause, 'createContext failed');
    return cause;
  }

  /** `authenticate`, then `createContext`: what one HTTP request needs. */
  async contextFor(params: ConnectionParams | null, req: IncomingMessage, address: string): Promise<{ ctx: unknown; identity: Identity }> {
    const identity = await this.authenticate(params, req, address);
    return { ctx: await this.createContext(params, req, identity.user), identity };
  }

  /** The key `user` counts under for `maxConnectionsPerUser`, or null when it is not counted. */
  userKeyOf(user: unknown): string | null {
    return user === null ? null : this.settings.userKey(user);
  }

  /** Takes a connection slot for the user `key`; false when it holds `maxConnectionsPerUser` already. */
  acquireUserSlot(key: string): boolean {
    const count = this.held.get(key) ?? 0;
    if (count >= this.settings.maxConnectionsPerUser) return false;
    this.held.set(key, count + 1);
    return true;
  }

  releaseUserSlot(key: string): void {
    const left = (this.held.get(key) ?? 1) - 1;
    if (left <= 0) this.held.delete(key);
    else this.held.set(key, left);
  }
}

/** Who a caller is without an `authenticate` option. */
export const ANONYMOUS: Identity = { user: null, expiresAt: null };

/** A `createContext` error that refuses the caller rather than reporting a fault. */
export function isRefusal(cause: unknown): boolean {
  return cause instanceof TRPCError && (cause.code === 'UNAUTHORIZED' || cause.code === 'FORBIDDEN');
}

function authenticationError(cause: unknown): TRPCError {
  if (cause instanceof HeraldError && cause.heraldCode === 'UNAUTHORIZED') return cause;
  if (cause instanceof TRPCError) return new HeraldError('UNAUTHORIZED', cause.message, { cause });
  return new HeraldError('UNAUTHORIZED', 'Authentication failed', { cause });
}

/** Keeps the string values of parsed connection params (tRPC's parser allows `undefined` ones). */
export function stringParams(params: Readonly<Record<string, string | undefined>> | null): ConnectionParams | null {
  if (!params) return null;
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) if (typeof value === 'string') out[key] = value;
  return out;
}

/** The default `userKey`: a string user itself, else its `id` or `sub` when that is a string or number. */
export function defaultUserKey(user: unknown): string | null {
  if (typeof user === 'string') return user;
  if (typeof user !== 'object' || user === null) return null;
  const { id, sub } = user as { id?: unknown; sub?: unknown };
  for (const candidate of [id, sub]) {
    if (typeof candidate === 'string' || typeof candidate === 'number') return String(candidate);
  }
  return null;
}
