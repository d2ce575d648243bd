/**
 * Durable mutations and subscription positions for `createHeraldClient`
 * (docs/outbox.md): `createPersistence(storage, options)` is passed as its
 * `persistence` option. The storages: `memoryStorage` here,
 * `fileStorage` in `@herald/client/file` (Node), `indexedDbStorage` in
 * `@herald/client/indexeddb` (browsers).
 *
 * @example
 * ```ts
 * import { createHeraldClient } from '@herald/client';
 * import { createPersistence } from '@herald/client/persistence';
 * import { fileStorage } from '@herald/client/file';
 *
 * const client = createHeraldClient<AppRouter>({
 *   url: 'ws://localhost:8787/ws',
 *   persistence: createPersistence(fileStorage({ directory: '.herald' })),
 * });
 * client.outbox.onSettled((outcome) => console.log(outcome.type, outcome.entry.path));
 * ```
 * @module @herald/client/persistence
 */
import { newIdempotencyKey } from '../calls/idempotencyKey.js';
import type { HeraldPersistence } from '../persistence.js';
import { DurableOutbox } from './durableOutbox.js';
import { persistentCalls } from './persistentCalls.js';
import type { HeraldStorage } from './storage.js';
import { StoredPositions } from './storedPositions.js';

export { memoryStorage, UNREADABLE_VALUE, UnreadableValueError, type HeraldStorage } from './storage.js';
export { UNKNOWN_POSITION } from './storedPositions.js';
export type { PersistenceContext } from './persistentCalls.js';

/** The options of `createPersistence`. */
export interface PersistenceOptions {
  /**
   * An outbox entry older than this is reported expired (`OUTBOX_EXPIRED`)
   * instead of sent again. Keep it below the server's `idempotency.ttlMs`
   * (default 600_000), less the longest a send may take: past the server's
   * window a resend could run the mutation a second time.
   * @default 300_000
   */
  maxAgeMs?: number;
  /**
   * How often the client looks for entries left by a page that closed or a
   * process that died, and takes them over.
   * @default 5_000
   */
  claimIntervalMs?: number;
  /**
   * How long to wait before sending again when the server answered that the
   * first attempt of the entry is still running.
   * @default 1_000
   */
  retryDelayMs?: number;
  /**
   * Send one entry at a time, oldest first, each once the one before has its
   * outcome, so the server runs them in the order they were written, also
   * over HTTP (where each mutation is a request of its own) and after a
   * reload. `false` sends every entry at once: faster, and still in order
   * over one WebSocket, but not over HTTP.
   * @default true
   */
  inOrder?: boolean;
  /**
   * Store each subscription's last position and resume from it when the
   * subscription is made again (its input without `lastEventId`).
   * @default true
   */
  positions?: boolean;
  /**
   * Gets storage failures (a write or read that threw), stored values moved
   * aside because they could not be read (docs/outbox.md, "Damaged files"),
   * and errors thrown by `onSettled` listeners.
   * @default logs with `console.warn`
   */
  onError?: (error: Error) => void;
}

/** The defaults of `PersistenceOptions`, merged under the options passed. */
export const persistenceDefaults = {
  maxAgeMs: 300_000,
  claimIntervalMs: 5_000,
  retryDelayMs: 1_000,
  inOrder: true,
  positions: true,
} as const;

/**
 * The `persistence` option of `createHeraldClient`: an outbox and subscription
 * positions kept in `storage`, shared with every client (tab, process) on the
 * same storage.
 */
export function createPersistence(storage: HeraldStorage, options: PersistenceOptions = {}): HeraldPersistence {
  const onError = options.onError ?? ((error: Error) => console.warn(`[herald] persistence: ${error.message}`));
  const settings = {
    maxAgeMs: options.maxAgeMs ?? persistenceDefaults.maxAgeMs,
    claimIntervalMs: options.claimIntervalMs ?? persistenceDefaults.claimIntervalMs,
    retryDelayMs: options.retryDelayMs ?? persistenceDefaults.retryDelayMs,
    inOrder: options.inOrder ?? persistenceDefaults.inOrder,
    onError,
  };
  return {
    attach(tracker, connection) {
      const host = {
        mutate: (call: { path: string; input: unknown; idempotencyKey: string }, observer: Parameters<typeof tracker.start>[1]) =>
          tracker.start({ type: 'mutation', ...call }, observer),
        connection,
        newKey: newIdempotencyKey,
      };
      const outbox = new DurableOutbox(storage, host, settings);
      const positions = (options.positions ?? persistenceDefaults.positions) ? new StoredPositions(storage, onError) : null;
      return {
        start: persistentCalls((call, observer) => tracker.start(call, observer), outbox, positions),
        outbox,
        async close() {
          await outbox.close();
          await positions?.close();
        },
      };
    },
  };
}
