import type { ConnectionState } from '@herald/client';

export type BannerKind = 'connecting' | 'reconnecting' | 'offline' | 'restored';

/** What the connection banner says, if anything. `restored`: the link came back moments ago. */
export function bannerFor(state: ConnectionState, browserOnline: boolean, restored: boolean): { kind: BannerKind; text: string } | null {
  if (state.status === 'closed') return { kind: 'offline', text: 'Offline: disconnected from the chat server.' };
  if (!browserOnline) return { kind: 'offline', text: 'You are offline. Messages you send will go out when the connection is back.' };
  switch (state.status) {
    case 'connecting':
      return { kind: 'connecting', text: 'Connecting…' };
    case 'reconnecting':
      return {
        kind: 'reconnecting',
        text: `Reconnecting…${state.attempt > 1 ? ` (attempt ${state.attempt})` : ''} Messages you send will go out when the connection is back.`,
      };
    case 'open':
      return restored ? { kind: 'restored', text: 'Connected again.' } : null;
  }
}
