import { TRPCError, type AnyRouter } from '@trpc/server';
import { identityOf, type Identity } from '../auth/identity.js';
import { HeraldError } from '../errors.js';
import type { HeraldServerOptions } from '../options.js';
import { isThenable } from '../thenable.js';
import type { HeraldRequest } from './requestHead.js';

/** Connection params as the app sees them: string values only. */
export type ConnectionParams = Readonly<Record<string, string>>;

/** Where errors go that the app should hear of (`onError`). */
export type ErrorReporter = (error: unknown, type: string, path?: string) => void;

export interface AdmissionSettings {
  readonly authenticate: HeraldServerOptions<AnyRouter, unknown>['authenticate'];
  readonly createContext: HeraldServerOptions<AnyRouter, unknown>['createContext'];
  /** The key a user counts under for `maxConnectionsPerUser` and the request budget, or null to not count it. */
  readonly userKey: (user: unknown) => string | null;
  /** Where a failed authentication of `address` is counted (the gate's failed-authentication budget). */
  readonly countFailure: (address: string) => void;
  readonly report: ErrorReporter;
  /** Where a failed `createContext` is logged (it is a server fault, whatever `onError` does). */
  readonly logError: (error: unknown, message: string) => void;
}

/**
 * Who is calling, the same way on every door: `authenticate` decides the
 * user (and until when it holds) from the connection params and the
 * request, then `createContext` builds the context every call shares.
 * What a caller may do with it is the `RequestGate`'s to decide.
 */
export class Admission {
  constructor(private readonly settings: AdmissionSettings) {}

  /**
   * Who `authenticate` says is calling: the user (null when anonymous, or
   * without `authenticate`) and its expiry. A refusal counts against
   * `address` and throws the `UNAUTHORIZED` HeraldError the client should
   * get: a thrown TRPCError's message, else nothing internal (the cause goes
   * to `onError`).
   */
  async authenticate(params: ConnectionParams | null, req: HeraldRequest, address: string): Promise<Identity> {
    if (!this.settings.authenticate) return ANONYMOUS;
    try {
      return identityOf(await this.settings.authenticate(params, req));
    } catch (cause) {
      this.settings.countFailure(address);
      if (!(cause instanceof TRPCError)) this.settings.report(cause, 'authenticate');
      throw authenticationError(cause);
    }
  }

  /** Whether there is an `authenticate` to run: without one every caller is `ANONYMOUS`, known at once. */
  get authenticates(): boolean {
    return this.settings.authenticate !== undefined;
  }

  /**
   * Runs the app's `createContext`: the context, or a promise of it when
   * `createContext` returns one (callers await it either way). Its errors
   * (thrown, or the promise's rejection) are the caller's to map; one that
   * is not a refusal (UNAUTHORIZED or FORBIDDEN) is a server fault and is
   * logged here.
   */
  createContext(params: ConnectionParams | null, req: HeraldRequest, user: unknown, connectionId: string): unknown {
    // Called as it is: a synchronous `createContext` gives its context at once (no promise to wait for).
    let ctx: unknown;
    try {
      ctx = this.settings.createContext({ connectionParams: params, req, user, connectionId });
    } catch (cause) {
      throw this.contextFailed(cause);
    }
    return isThenable(ctx) ? Promise.resolve(ctx).catch((cause: unknown) => Promise.reject(this.contextFailed(cause))) : ctx;
  }

  private contextFailed(cause: unknown): unknown {
    if (!isRefusal(cause)) this.settings.logError(cause, 'createContext failed');
    return cause;
  }

  /** The key `user` counts under, or null when it is not counted (anonymous). */
  userKeyOf(user: unknown): string | null {
    return user === null ? null : this.settings.userKey(user);
  }
}

/** Who a caller is without an `authenticate` option. */
export const ANONYMOUS: Identity = { user: null, expiresAt: null, issuedAt: null };

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
