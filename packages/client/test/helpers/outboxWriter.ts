/**
 * A Node service for the outbox chaos test (outboxChaos.test.ts): it writes
 * `ledger.write({ book, n })` for every n in [0, COUNT) that it has not written
 * before, through a client whose outbox lives in a file store, and appends each
 * outcome the outbox reports to a log file (synchronously, before the next).
 * Killed at any point and started again on the same directory, it finds what it
 * wrote before in the outbox (pending entries, once taken over from the dead
 * process) and in the log (settled ones), and writes only the rest.
 *
 * Prints `ready` once it knows what to write, `settled <count>` after each
 * outcome, and `done` when every n has an outcome.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createHeraldClient } from '@herald/client';
import { fileStorage } from '@herald/client/file';
import { createPersistence } from '@herald/client/persistence';
import type { LedgerRouter } from './ledgerApp.js';

const url = process.env['LEDGER_URL']!;
const directory = process.env['OUTBOX_DIR']!;
const log = process.env['OUTCOME_LOG']!;
const count = Number(process.env['COUNT']);

const storage = fileStorage({ directory, lockStaleMs: 2_000 });
const client = createHeraldClient<LedgerRouter>({
  url,
  backoff: { initialDelayMs: 20, maxDelayMs: 200 },
  persistence: createPersistence(storage, { claimIntervalMs: 100 }),
});

const settled = new Set<number>();
if (existsSync(log)) {
  for (const line of readFileSync(log, 'utf8').split('\n')) if (line) settled.add((JSON.parse(line) as { n: number }).n);
}
client.outbox.onSettled((outcome) => {
  const n = (outcome.entry.input as { n: number }).n;
  appendFileSync(log, `${JSON.stringify({ n, key: outcome.entry.key, type: outcome.type, pid: process.pid })}\n`);
  settled.add(n);
  console.log(`settled ${settled.size}`);
  if (settled.size === count) console.log('done');
});

await client.outbox.ready;
// Entries of the killed process are taken over once its lock goes stale: wait until every stored entry is ours.
while ((await storage.keys('outbox/')).length > client.outbox.entries.length) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const written = new Set([...settled, ...client.outbox.entries.map((entry) => (entry.input as { n: number }).n)]);
console.log(`ready (${written.size} written before)`);
if (settled.size === count) console.log('done');
for (let n = 0; n < count; n++) {
  if (!written.has(n)) void client.trpc.write.mutate({ book: 'chaos', n }).catch(() => undefined);
}
