import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createFaultProxy } from '@herald/server/testing';
import { Cleanup, kill, pollUntil, seeded, spawnTs } from '@herald/test-kit';
import { startLedgerServer } from './helpers/ledgerApp.js';

const COUNT = 500;
const KILLS = 5;

const settledCount = (output: string): number => Math.max(0, ...[...output.matchAll(/^settled (\d+)$/gm)].map((m) => Number(m[1])));

describe('outbox chaos', () => {
  it(`${COUNT} mutations through random cuts and ${KILLS} random kills: each runs once, each outcome is reported under one key`, { timeout: 120_000 }, async () => {
    await using cleanup = new Cleanup();
    const seed = Number(process.env['CHAOS_SEED'] ?? Date.now() % 100_000);
    const random = seeded(seed);
    const server = cleanup.add(await startLedgerServer());
    const proxy = cleanup.add(await createFaultProxy({ target: { port: server.server.port } }));
    const directory = await mkdtemp(join(tmpdir(), 'herald-outbox-chaos-'));
    if (!process.env['KEEP_CHAOS']) cleanup.defer(() => rm(directory, { recursive: true, force: true }));
    const log = join(directory, 'outcomes.log');
    const env = { LEDGER_URL: proxy.url('/ws'), OUTBOX_DIR: join(directory, 'store'), OUTCOME_LOG: log, COUNT: String(COUNT) };

    let child: ChildProcess | null = null;
    cleanup.defer(() => child && kill(child));
    const start = () => spawnTs('packages/client/test/helpers/outboxWriter.ts', [], { ready: /^ready/m, env, timeoutMs: 30_000 });

    // Cut connections at random while a child writes (the proxy resets both sides, as a network would).
    const cutter = setInterval(() => {
      if (random() < 0.3) proxy.cutAll();
    }, 25);
    cleanup.defer(() => clearInterval(cutter));

    let before = 0;
    for (let kills = 0; kills < KILLS; kills++) {
      const run = await start();
      child = run.child;
      // Kill it once it settled a random number more (the kill lands wherever the child is then: recording, sending, reporting, deleting).
      const target = Math.min(COUNT - 1, before + 1 + Math.floor(random() * (COUNT / KILLS / 2)));
      await pollUntil(() => settledCount(run.output()) >= target || /^done$/m.test(run.output()), `child settled ${target}`, { timeoutMs: 30_000 });
      await kill(run.child);
      before = new Set((await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { n: number }).n)).size;
    }
    clearInterval(cutter);
    const last = await start();
    child = last.child;
    await pollUntil(() => /^done$/m.test(last.output()), 'last child done', { timeoutMs: 60_000 });

    const twice = [...server.app.runs.entries()].filter(([, runs]) => runs !== 1).map(([n]) => n);
    if (twice.length > 0) {
      const lines = (await readFile(log, 'utf8')).split('\n').filter((line) => twice.some((n) => line.includes(`"n":${n},`)));
      console.log(`seed ${seed}: ran twice ${JSON.stringify(twice)}\n${lines.join('\n')}\n${directory}`);
    }
    // Each mutation ran exactly once on the server, and its message was stored once, in the ledger.
    expect(server.app.runs.size, `seed ${seed}`).toBe(COUNT);
    expect([...server.app.runs.values()].filter((runs) => runs !== 1), `seed ${seed}`).toEqual([]);
    const stored = (await server.app.ledger.history('chaos', { limit: COUNT * 2 })).messages.map((m) => m.message.n);
    expect(stored.length, `seed ${seed}`).toBe(COUNT);
    expect(new Set(stored).size).toBe(COUNT);

    // Every entry's outcome was reported, as a success, under one key per mutation, and once per
    // process. A process killed between a report and the removal of the entry reports it again on
    // the next start, with the same key and result (docs/outbox.md: at least once across crashes).
    const reports = (await readFile(log, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { n: number; key: string; type: string; pid: number });
    expect(reports.every((r) => r.type === 'success')).toBe(true);
    const keysOf = new Map<number, Set<string>>();
    for (const r of reports) keysOf.set(r.n, (keysOf.get(r.n) ?? new Set()).add(r.key));
    expect(keysOf.size).toBe(COUNT);
    expect([...keysOf.values()].filter((keys) => keys.size !== 1)).toEqual([]);
    const perProcess = new Set(reports.map((r) => `${r.pid} ${r.key}`));
    expect(perProcess.size, 'a key reported twice by one process').toBe(reports.length);
    console.log(`seed ${seed}: ${reports.length - COUNT} outcomes reported again after a kill`);
  });
});
