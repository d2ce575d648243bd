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
 * The tab's session, in one place: React renders from it
 * (`useSyncExternalStore`), and the Herald client's `connectionParams`
 * reads and refreshes its token without waiting for a render. Every change
 * is saved to sessionStorage.
 */
export class SessionStore {
  private value: Session | null;
  private readonly listeners = new Set<() => void>();

  constructor(initial: Session | null = loadSession()) {
    this.value = initial;
  }

  get current(): Session | null {
    return this.value;
  }

  set(session: Session | null): void {
    if (session === this.value) return;
    this.value = session;
    saveSession(session);
    for (const listener of [...this.listeners]) listener();
  }

  /** Calls `listener` after every change; returns the unsubscribe function. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };
}

/**
 * The server refused the connection's credentials, so retrying with the same
 * token cannot help. Herald closes such a connection with 4001
 * (`CloseCode.UNAUTHORIZED`): the client reports it as the `closeCode` of its
 * `reconnecting` state, and when the retry with fresh `connectionParams` is
 * refused too, it stops in `closed` with that `refusal` (or an HTTP 401).
 */
export function refusedAtConnect(state: ConnectionState): boolean {
  if (state.status === 'reconnecting') return state.closeCode === CloseCode.UNAUTHORIZED;
  if (state.status === 'closed' && state.refusal) return state.refusal.closeCode === CloseCode.UNAUTHORIZED || state.refusal.httpStatus === 401;
  return false;
}
