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
 * `useOutbox()` reads the provider's client. A client without persistence
 * (`outbox` null) has no entries.
 */
export function useOutboxOf(outbox: Outbox | null): OutboxState {
  const subscribe = useCallback((onChange: () => void) => outbox?.subscribe(onChange) ?? noSubscription, [outbox]);
  const read = () => outbox?.entries ?? NO_ENTRIES;
  const entries = useSyncExternalStore(subscribe, read, read);
  return useMemo(
    () => ({
      entries,
      pending: entries.filter((entry) => entry.state === 'pending'),
      failed: entries.filter((entry) => entry.state === 'failed'),
      retry: (key: string) => (outbox ? outbox.retry(key) : Promise.reject(new Error(`No outbox entry ${key}: the client has no persistence`))),
      discard: async (key: string) => outbox?.discard(key),
    }),
    [entries, outbox],
  );
}

const NO_ENTRIES: readonly OutboxEntry[] = [];
const noSubscription = () => undefined;
