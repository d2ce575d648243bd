import type { IncomingMessage } from 'node:http';
import { TRPCError, type AnyRouter } from '@trpc/server';
import { HeraldError } from '../errors.js';
import type { HeraldServerOptions } from '../options.js';

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
  readonly report: ErrorReporter;
}

/**
 * Who is calling, the same way on both transports: `authenticate` decides
 * the user from the connection params and the request, then `createContext`
 * builds the context every call shares. Also keeps the per-user connection
 * counts (`maxConnectionsPerUser`) of the node.
 */
export class Admission {
  private readonly held = new Map<string, number>();

  constructor(private readonly settings: AdmissionSettings) {}

  /**
   * The user `authenticate` returns, or null (anonymous, or no
   * `authenticate`). A refusal throws the `UNAUTHORIZED` HeraldError the
   * client should get: a thrown TRPCError's message, else nothing internal
   * (and the cause goes to `onError`).
   */
  async authenticate(params: ConnectionParams | null, req: IncomingMessage): Promise<unknown> {
    if (!this.settings.authenticate) return null;
    try {
      return (await this.settings.authenticate(params, req)) ?? null;
    } catch (cause) {
      if (!(cause instanceof TRPCError)) this.settings.report(cause, 'authenticate');
      throw authenticationError(cause);
    }
  }

  /** Runs the app's `createContext`; its errors are the caller's to map. */
  async createContext(params: ConnectionParams | null, req: IncomingMessage, user: unknown): Promise<unknown> {
    return this.settings.createContext({ connectionParams: params, req, user });
  }

  /** `authenticate`, then `createContext`: what one HTTP request needs. */
  async contextFor(params: ConnectionParams | null, req: IncomingMessage): Promise<unknown> {
    return this.createContext(params, req, await this.authenticate(params, req));
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
