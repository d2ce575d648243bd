import { useCallback, useMemo, useSyncExternalStore } from 'react';
import type { Outbox, OutboxEntry } from '../persistence.js';

/** What `useOutbox()` returns. */
export interface OutboxState {
  /** Every entry, oldest first: pending (being sent) and failed. */
  readonly entries: readonly OutboxEntry[];
  /** Entries without an outcome yet: show them as "sending". */
  readonly pending: readonly OutboxEntry[];
  /** Entries the server refused, or that expired (`error.heraldCode === 'OUTBOX_EXPIRED'`). */
  readonly failed: readonly OutboxEntry[];
  /** Sends a failed entry again under a new key; resolves with the new key. */
  retry(key: string): Promise<string>;
  /** Forgets an entry. */
  discard(key: string): Promise<void>;
}

/**
 * The live outbox of a Herald client (`client.outbox`, docs/outbox.md):
 * re-renders when an entry is added, settles or fails. `createHeraldReact`'s
 * `useOutbox()` reads the provider's client.
 */
export function useOutboxOf(outbox: Outbox): OutboxState {
  const subscribe = useCallback((onChange: () => void) => outbox.subscribe(onChange), [outbox]);
  const read = () => outbox.entries;
  const entries = useSyncExternalStore(subscribe, read, read);
  return useMemo(
    () => ({
      entries,
      pending: entries.filter((entry) => entry.state === 'pending'),
      failed: entries.filter((entry) => entry.state === 'failed'),
      retry: (key: string) => outbox.retry(key),
      discard: (key: string) => outbox.discard(key),
    }),
    [entries, outbox],
  );
}
