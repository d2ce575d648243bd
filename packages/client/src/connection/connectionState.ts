import type { ConnectionState } from '@herald/shared';

/** Called with the new state and the one before it, on every change. */
export type ConnectionStateListener = (next: ConnectionState, previous: ConnectionState) => void;

/** The read side apps get: the current state and a way to follow it. */
export interface ConnectionStateSource {
  /** The state now: `connecting`, `open` (with its URL and transport), `reconnecting` (with the attempt and the error) or `closed`. */
  readonly current: ConnectionState;
  /** Calls `listener` on every change (not with the current value). Returns the unsubscribe function. */
  subscribe(listener: ConnectionStateListener): () => void;
}

/**
 * The one place a client's connection state changes. Moves to an equal state
 * are ignored, so listeners see only real transitions, each with the state it
 * came from. `closed` by the app (no `refusal`) is terminal; `closed` by a
 * refusal moves on only when the app asks (`client.reconnect()`).
 */
export class ConnectionStateMachine implements ConnectionStateSource {
  #state: ConnectionState = { status: 'connecting', url: null };
  readonly #listeners = new Set<ConnectionStateListener>();

  get current(): ConnectionState {
    return this.#state;
  }

  set(next: ConnectionState): void {
    const previous = this.#state;
    if ((previous.status === 'closed' && !previous.refusal) || sameState(previous, next)) return;
    this.#state = next;
    for (const listener of [...this.#listeners]) {
      try {
        listener(next, previous);
      } catch (error) {
        // A listener's bug must not stop the others or the link.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  subscribe(listener: ConnectionStateListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }
}

function sameState(a: ConnectionState, b: ConnectionState): boolean {
  if (a.status !== b.status) return false;
  switch (a.status) {
    case 'connecting':
      return a.url === (b as typeof a).url;
    case 'open':
      return a.url === (b as typeof a).url;
    case 'reconnecting':
      return a.attempt === (b as typeof a).attempt;
    case 'closed':
      return a.refusal === (b as typeof a).refusal;
  }
}
