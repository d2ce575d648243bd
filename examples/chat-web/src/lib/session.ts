import { CloseCode, type ConnectionState } from '@herald/client';
import type { Session } from './types.js';

const KEY = 'herald-chat:session';

/**
 * The session lives in sessionStorage: it survives a reload, and each tab can
 * be someone else (handy for trying the demo with two people in one browser).
 */
export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Session> | null;
    if (typeof value?.token !== 'string' || typeof value.user?.id !== 'string' || typeof value.user.name !== 'string') return null;
    return { token: value.token, user: { id: value.user.id, name: value.user.name } };
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  try {
    if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage can be unavailable (private mode, quota); the session then lasts until reload.
  }
}

/**
 * The server refused the connection's credentials: Herald closes such a
 * connection with 4001 (`CloseCode.UNAUTHORIZED`), which the client reports
 * as the `closeCode` of its `reconnecting` state. Retrying with the same token cannot help.
 */
export function refusedAtConnect(state: ConnectionState): boolean {
  return state.status === 'reconnecting' && state.closeCode === CloseCode.UNAUTHORIZED;
}
