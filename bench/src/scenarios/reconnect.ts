import type { SuiteConfig } from '../config.js';
import { freePort } from '@herald/server/testing';
import { LoadgenProcess, ServerProcess, withProcesses } from '../lib/harness.js';
import { fmt, log } from '../lib/log.js';
import { nowMs } from '../lib/payload.js';
import { sleep } from '../lib/proc.js';
import type { StormResult, SystemName } from '../lib/protocol.js';

export type StormSystem = Extract<SystemName, 'herald' | 'trpc'>;

/** Full jitter: a client's n-th retry waits random(0, min(cap, base * 2^n)). */
export const RECONNECT_POLICY = { baseMs: 500, capMs: 5_000 } as const;

export interface StormRow {
  readonly system: StormSystem;
  readonly clients: number;
  /** From the kill until the new process was ready (node start, module load, listen). */
  readonly restartMs: number;
  /** From the kill until the last client had its live marker. */
  readonly allResumedMs: number;
  /** From the new process being ready until the last client had its live marker. */
  readonly afterReadyMs: number;
  /** Server CPU from ready until every client resumed, ms. */
  readonly serverCpuMs: number;
  readonly result: StormResult;
}

/**
 * Scenario 4: `clients` minimal clients subscribed (each holding a position,
 * from a few published messages), the server killed with SIGKILL and started
 * again on the same port; every client reconnects with full-jitter backoff and
 * resubscribes with its lastEventId. Timed until each has its live marker.
 */
export async function runReconnect(config: SuiteConfig, systems: readonly StormSystem[]): Promise<StormRow[]> {
  const rows: StormRow[] = [];
  const clients = config.reconnect.clients;
  for (const system of systems) {
    await withProcesses(async (track) => {
      const port = await freePort();
      const first = track(await ServerProcess.start({ system, port }));
      const loadgen = track(await LoadgenProcess.start());
      const connected = await loadgen.ipc.request(
        'connect',
        { kind: 'trpc-wire', urls: [first.url], count: clients, subscribe: true, concurrency: 100, reconnect: RECONNECT_POLICY },
        300_000,
      );
      if (connected.failed > 0) log(`  WARNING: ${connected.failed} of ${clients} storm clients failed to connect`);
      await first.ipc.request('publish', { mode: 'burst', count: 3 });
      await sleep(500);

      const startMs = nowMs();
      await loadgen.ipc.request('armStorm', { startMs });
      await first.kill();
      const second = track(await ServerProcess.start({ system, port }));
      const readyMs = nowMs() - startMs;
      const before = await second.stats(false);
      const result = await loadgen.ipc.request('waitResumed', { timeoutMs: config.reconnect.timeoutMs }, config.reconnect.timeoutMs + 10_000);
      const after = await second.stats(false);
      const row: StormRow = {
        system,
        clients: result.clients,
        restartMs: readyMs,
        allResumedMs: result.lastResumeMs,
        afterReadyMs: result.lastResumeMs - readyMs,
        serverCpuMs: (after.cpu.userUs + after.cpu.systemUs - before.cpu.userUs - before.cpu.systemUs) / 1000,
        result,
      };
      rows.push(row);
      log(
        `reconnect ${system}: ${result.resumed}/${result.clients} resumed; all after ${fmt(row.allResumedMs, 0)} ms from the kill ` +
          `(restart ${fmt(row.restartMs, 0)} ms, then ${fmt(row.afterReadyMs, 0)} ms); per client p50 ${fmt(result.resumeMs.p50, 0)} ms ` +
          `p99 ${fmt(result.resumeMs.p99, 0)} ms; ${result.connectAttempts} attempts (${result.failedAttempts} failed)`,
      );
      await loadgen.ipc.request('closeAll', null);
    });
  }
  return rows;
}
