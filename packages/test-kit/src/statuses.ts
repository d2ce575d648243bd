import type { createWSClient } from '@trpc/client';
import type { ConnectionStateSource, ConnectionStatus } from '@herald/client';

/**
 * A client's connection status, in Herald's vocabulary, for both client
 * kinds: Herald's client reports it itself; the stock tRPC client's
 * `connectionState` is translated (`pending` is `open`; `connecting` after an
 * open is `reconnecting`; `idle` after `close()` is `closed`).
 */
export interface StatusSource {
  readonly status: ConnectionStatus;
  /** Calls `listener` on every change of status (not with the current one). Returns the unsubscribe function. */
  onChange(listener: (status: ConnectionStatus) => void): () => void;
}

/** The statuses of a Herald client's connection. */
export function heraldStatuses(connection: ConnectionStateSource): StatusSource {
  return {
    get status() {
      return connection.current.status;
    },
    onChange(listener) {
      return connection.subscribe((next, previous) => {
        if (next.status !== previous.status) listener(next.status);
      });
    },
  };
}

type WsClient = ReturnType<typeof createWSClient>;

/** The statuses of a stock tRPC WebSocket client, translated. Follows it from creation, so it knows whether it was ever open. */
export function stockStatuses(wsClient: WsClient): StatusSource {
  const listeners = new Set<(status: ConnectionStatus) => void>();
  let wasOpen = false;
  let status: ConnectionStatus = 'connecting';
  const translate = (state: 'idle' | 'connecting' | 'pending'): ConnectionStatus => {
    if (state === 'pending') return 'open';
    if (state === 'idle') return 'closed';
    return wasOpen ? 'reconnecting' : 'connecting';
  };
  wsClient.connectionState.subscribe({
    next: (state) => {
      const next = translate(state.state);
      if (next === 'open') wasOpen = true;
      if (next === status) return;
      status = next;
      for (const listener of [...listeners]) listener(next);
    },
  });
  return {
    get status() {
      return status;
    },
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  };
}

/** Whatever a test follows the status of: a test client, a Herald client, or a Herald connection state. */
export type StatusTarget = { readonly statuses: StatusSource } | { readonly connection: ConnectionStateSource } | ConnectionStateSource;

export function statusSourceOf(target: StatusTarget): StatusSource {
  if ('statuses' in target) return target.statuses;
  if ('connection' in target) return heraldStatuses(target.connection);
  return heraldStatuses(target);
}
