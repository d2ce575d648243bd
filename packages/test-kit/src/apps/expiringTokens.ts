import { HeraldError, withExpiry, type ExpiringUser } from '@herald/server';
import type { TestUser } from './hardening.js';

let issued = 0;

/**
 * A token of the form `<user>:<expiresAt ms>:<serial>`: a test's stand-in for
 * a signed token (the server trusts what it says, which is all a test of
 * expiry and refresh needs). Each is unique.
 */
export function expiringToken(user: string, ttlMs: number): string {
  return `${user}:${Date.now() + ttlMs}:${++issued}`;
}

/** When `token` (made by `expiringToken`) expires, in ms since the epoch. */
export function expiryOf(token: string): number {
  return Number(token.split(':')[1]);
}

/**
 * An `authenticate` for `expiringToken`s: refuses a missing or expired one,
 * returns the user (its `role` from `connectionParams.role`, else 'member')
 * with the token's expiry.
 */
export function expiringTokenAuth(params: Readonly<Record<string, string>> | null): ExpiringUser<TestUser> {
  const token = params?.['token'] ?? '';
  const [id] = token.split(':');
  const expiresAt = expiryOf(token);
  if (!id || !Number.isFinite(expiresAt)) throw new HeraldError('UNAUTHORIZED', 'No token');
  if (expiresAt <= Date.now()) throw new HeraldError('UNAUTHORIZED', 'Token expired');
  return withExpiry({ id, role: params?.['role'] ?? 'member' }, expiresAt);
}
