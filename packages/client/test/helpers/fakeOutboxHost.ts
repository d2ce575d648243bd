import type { ConnectionState } from '@herald/shared';
import type { PersistedCallObserver } from '../../src/persistence.js';
import type { OutboxHost } from '../../src/persistence/durableOutbox.js';
import type { HeraldStorage } from '../../src/persistence/storage.js';

/**
 * The client's side of the outbox: `mutate` records what it was asked to
 * send, and the test answers (or `answerAtOnce` answers each with its input).
 * `OutboxHost` is the seam the outbox is built against; outbox.test.ts runs
 * it end to end on a real client and server.
 */
export class FakeHost implements OutboxHost {
  readonly sent: { call: Parameters<OutboxHost['mutate']>[0]; observer: PersistedCallObserver; cancelled: boolean }[] = [];
  /** Answer every send with `{ data: input }` as it is made. */
  answerAtOnce = false;
  #state: ConnectionState = { status: 'open', url: 'ws://test', transport: 'websocket' };
  readonly #listeners = new Set<(next: ConnectionState, previous: ConnectionState) => void>();
  #keys = 0;
  readonly #prefix: string;
  readonly connection: OutboxHost['connection'];

  constructor(prefix = 'k') {
    this.#prefix = prefix;
    const state = () => this.#state;
    this.connection = {
      get current() {
        return state();
      },
      subscribe: (listener) => {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
      },
    };
  }

  mutate(call: Parameters<OutboxHost['mutate']>[0], observer: PersistedCallObserver): () => void {
    const sent = { call, observer, cancelled: false };
    this.sent.push(sent);
    if (this.answerAtOnce) observer.next({ type: 'data', data: call.input });
    return () => (sent.cancelled = true);
  }

  newKey(): string {
    return `${this.#prefix}${String(++this.#keys).padStart(8, '0')}`;
  }

  setState(state: ConnectionState): void {
    const previous = this.#state;
    this.#state = state;
    for (const listener of this.#listeners) listener(state, previous);
  }
}

/** Counts the calls made to `storage`, by method. */
export function countingStorage(storage: HeraldStorage): { storage: HeraldStorage; calls: Record<'get' | 'set' | 'delete' | 'keys', number> } {
  const calls = { get: 0, set: 0, delete: 0, keys: 0 };
  return {
    calls,
    storage: {
      get: (key) => (calls.get++, storage.get(key)),
      set: (key, value) => (calls.set++, storage.set(key, value)),
      delete: (key) => (calls.delete++, storage.delete(key)),
      keys: (prefix) => (calls.keys++, storage.keys(prefix)),
      tryLock: (name) => storage.tryLock(name),
      ...(storage.quarantine ? { quarantine: (key: string) => storage.quarantine!(key) } : {}),
    },
  };
}
