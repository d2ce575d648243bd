import type { ConnectionState } from '@herald/client';

export type BannerKind = 'connecting' | 'reconnecting' | 'offline' | 'restored';

export interface Banner {
  readonly kind: BannerKind;
  /** What the live region says: the same words for as long as the state lasts, so it is announced once per change. */
  readonly text: string;
  /** Shown beside it but not announced: changes on every attempt. */
  readonly detail: string | null;
}

/** What the connection banner says, if anything. `restored`: the link came back moments ago. */
export function bannerFor(state: ConnectionState, browserOnline: boolean, restored: boolean): Banner | null {
  if (state.status === 'closed') return { kind: 'offline', text: 'Offline: disconnected from the chat server.', detail: null };
  if (!browserOnline) return { kind: 'offline', text: 'You are offline. Messages you send will go out when the connection is back.', detail: null };
  switch (state.status) {
    case 'connecting':
      return { kind: 'connecting', text: 'Connecting…', detail: null };
    case 'reconnecting':
      return {
        kind: 'reconnecting',
        text: 'Reconnecting… Messages you send will go out when the connection is back.',
        detail: state.attempt > 1 ? `attempt ${state.attempt}` : null,
      };
    case 'open':
      return restored ? { kind: 'restored', text: 'Connected again.', detail: null } : null;
  }
}
