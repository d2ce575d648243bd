import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ConnectionState } from '@herald/shared';
import type { PersistedCallObserver, PersistenceTracker } from '@herald/client';
import { fileStorage } from '@herald/client/file';
import { createPersistence, memoryStorage, type HeraldStorage } from '@herald/client/persistence';
import type { SuiteConfig } from '../config.js';
import { fmt, log } from '../lib/log.js';

export const OUTBOX_STORES = ['memory', 'file'] as const;
export type OutboxStore = (typeof OUTBOX_STORES)[number];

export interface OutboxRow {
  readonly store: OutboxStore;
  readonly entries: number;
  /** From the first mutation to the last record written. */
  readonly recordMs: number;
  /** From a new client on the same storage to its `outbox.ready` (every entry read and queued). */
  readonly reloadMs: number;
  /** From the connection answering to the last outcome reported and the last entry removed from storage. */
  readonly drainMs: number;
  /** Heap growth with the backlog loaded, per entry (bytes, between two full collections). */
  readonly heapBytesPerEntry: number;
}

/**
 * Scenario 10: the durable outbox with a large offline backlog. One process,
 * no network: the persistence is attached to a tracker that holds every send
 * (offline) or answers it at once (online), so the figures are the outbox's
 * and the storage's own cost. For each store and size: **record** N
 * mutations offline; **reload** (a new client on the same storage, as after a
 * restart, until `outbox.ready`); **drain** (the connection answers: in
 * order, one entry at a time, until every outcome is reported and every entry
 * removed from storage). The file store is opened again for the reload, so
 * it reads its directory as after a restart.
 */
export async function runOutbox(config: SuiteConfig): Promise<OutboxRow[]> {
  const rows: OutboxRow[] = [];
  for (const store of OUTBOX_STORES) {
    for (const entries of config.outbox.sizes) {
      const directory = store === 'file' ? await mkdtemp(join(tmpdir(), 'herald-bench-outbox-')) : null;
      try {
        const memory = memoryStorage();
        // A restart opens the store again: a new fileStorage reads the directory (a memoryStorage is kept, as it does not outlive its process).
        const row = await measure(store, entries, directory ? () => fileStorage({ directory }) : () => memory);
        log(`outbox ${store} ${entries.toLocaleString('en-US')}: record ${fmt(row.recordMs, 0)} ms, reload ${fmt(row.reloadMs, 0)} ms, drain ${fmt(row.drainMs, 0)} ms, ${fmt(row.heapBytesPerEntry, 0)} B/entry`);
        rows.push(row);
      } finally {
        if (directory) await rm(directory, { recursive: true, force: true });
      }
    }
  }
  return rows;
}

async function measure(store: OutboxStore, entries: number, open: () => HeraldStorage): Promise<OutboxRow> {
  const counts = { recorded: 0, removed: 0 };
  const counted = (inner: HeraldStorage): HeraldStorage => ({
    ...inner,
    set: async (key, value) => {
      await inner.set(key, value);
      if (key.startsWith('outbox/')) counts.recorded++;
    },
    delete: async (key) => {
      await inner.delete(key);
      if (key.startsWith('outbox/')) counts.removed++;
    },
    ...(inner.quarantine ? { quarantine: (key: string) => inner.quarantine!(key) } : {}),
  });
  const silent = { onError: (error: Error) => console.error(`[bench] outbox: ${error.message}`), maxAgeMs: 3_600_000, claimIntervalMs: 3_600_000 };

  const offline = new FakeTracker();
  const first = createPersistence(counted(open()), silent).attach(offline, offline.connection);
  const recordStart = performance.now();
  for (let n = 0; n < entries; n++) first.start({ type: 'mutation', path: 'write', input: { n, text: 'a message of a typical size' } }, ignore);
  await until(() => counts.recorded === entries);
  const recordMs = performance.now() - recordStart;
  await first.close();

  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const held = new FakeTracker();
  const reloadStart = performance.now();
  const second = createPersistence(counted(open()), silent).attach(held, held.connection);
  await second.outbox.ready;
  const reloadMs = performance.now() - reloadStart;
  collectGarbage();
  const heapBytesPerEntry = (process.memoryUsage().heapUsed - heapBefore) / entries;

  let settled = 0;
  second.outbox.onSettled(() => settled++);
  const drainStart = performance.now();
  held.goOnline();
  await until(() => settled === entries && counts.removed === entries);
  const drainMs = performance.now() - drainStart;
  await second.close();
  return { store, entries, recordMs, reloadMs, drainMs, heapBytesPerEntry };
}

// A full collection on demand, without starting the orchestrator with --expose-gc.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const ignore: PersistedCallObserver = { next: () => undefined, error: () => undefined, complete: () => undefined };

/** Polls `done` every 5 ms (the outbox's work runs on promises and file callbacks, so a poll lets it run). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The client's request tracker: holds every send until `goOnline`, then answers each at once with its input. */
class FakeTracker implements PersistenceTracker {
  readonly #held: { input: unknown; observer: PersistedCallObserver }[] = [];
  #online = false;
  readonly connection = {
    current: { status: 'open', url: 'ws://bench', transport: 'websocket' } as ConnectionState,
    subscribe: () => () => undefined,
  };

  start(call: { readonly input: unknown }, observer: PersistedCallObserver): () => void {
    if (this.#online) observer.next({ type: 'data', data: call.input });
    else this.#held.push({ input: call.input, observer });
    return () => undefined;
  }

  goOnline(): void {
    this.#online = true;
    for (const { input, observer } of this.#held.splice(0)) observer.next({ type: 'data', data: input });
  }
}
