// The load generator, in its own process (pinned by the orchestrator to the
// core the servers do not use). It holds every client connection of a
// scenario and reports what they receive; all commands come over IPC.
import { emitEvent, serveIpc } from '../lib/ipc.js';
import { nowMs } from '../lib/payload.js';
import { openFileLimit, sleep } from '../lib/proc.js';
import { roomOf, type LoadgenCommands } from '../lib/protocol.js';
import { Histogram } from '../lib/stats.js';
import { createRpcClient, createSubscriber, type Resumable } from './index.js';
import { runPool, withTimeout } from './pool.js';
import { Recorder } from './recorder.js';
import type { ReconnectStats } from './trpcWire.js';
import type { RpcClient, SubscriberClient } from './types.js';

const recorder = new Recorder();
let subscribers: (SubscriberClient & Partial<Resumable>)[] = [];
let unsubscribed: (SubscriberClient & Partial<Resumable>)[] = [];
const reconnectStats: ReconnectStats = { attempts: 0, failed: 0 };
let storm: { startMs: number; resumeTimes: number[] } | null = null;
let rpc: { running: boolean; clients: RpcClient[]; loops: Promise<void>[] } | null = null;
/** The subscribers' wire bytes at the last snapshot. */
let wireBytesAtSnapshot = 0;

function wireBytesRead(): number {
  let total = 0;
  for (const client of subscribers) total += client.bytesRead?.() ?? 0;
  for (const client of unsubscribed) total += client.bytesRead?.() ?? 0;
  return total;
}

/** Connection attempts in flight while subscribing an already connected set. */
const SUBSCRIBE_CONCURRENCY = 500;
/** A connection or subscription that takes longer counts as failed (a refused one must not hang the run). */
const STEP_TIMEOUT_MS = 30_000;

serveIpc<LoadgenCommands>({
  async connect(plan) {
    const started = nowMs();
    const created: (SubscriberClient & Partial<Resumable>)[] = [];
    const reconnect = plan.reconnect
      ? {
          policy: plan.reconnect,
          stats: reconnectStats,
          onResumed: (atMs: number) => storm?.resumeTimes.push(atMs - storm.startMs),
        }
      : null;
    const { ok, failed } = await runPool(plan.count, plan.concurrency, async (index) => {
      const urlIndex = index % plan.urls.length;
      const client = createSubscriber(
        plan.kind,
        {
          url: plan.urls[urlIndex]!,
          group: plan.groups?.[urlIndex] ?? urlIndex,
          recorder,
          deflate: plan.deflate === true,
          live: plan.live === true,
          ...(plan.encoding ? { encoding: plan.encoding } : {}),
          ...(plan.transport ? { transport: plan.transport } : {}),
          ...(plan.rooms ? { room: roomOf(Math.floor(index / plan.urls.length) % plan.rooms) } : {}),
        },
        reconnect,
      );
      try {
        await withTimeout(client.connect(), STEP_TIMEOUT_MS, 'connect');
        if (plan.subscribe) await withTimeout(client.subscribe(), STEP_TIMEOUT_MS, 'subscribe');
      } catch (error) {
        client.close();
        throw error;
      }
      created.push(client);
    });
    if (plan.subscribe) subscribers.push(...created);
    else unsubscribed.push(...created);
    return { connected: ok, failed, ms: nowMs() - started };
  },

  async subscribe() {
    const started = nowMs();
    const pending = unsubscribed;
    unsubscribed = [];
    const { ok } = await runPool(pending.length, SUBSCRIBE_CONCURRENCY, async (index) => {
      const client = pending[index]!;
      await withTimeout(client.subscribe(), STEP_TIMEOUT_MS, 'subscribe');
      subscribers.push(client);
    });
    return { subscribed: ok, ms: nowMs() - started };
  },

  reset({ creditStep }) {
    recorder.reset(creditStep);
    return null;
  },

  snapshot({ startRun }) {
    const wireBytes = wireBytesRead();
    const window = wireBytes - wireBytesAtSnapshot;
    wireBytesAtSnapshot = wireBytes;
    return recorder.snapshot(startRun, subscribers.length + unsubscribed.length + (rpc?.clients.length ?? 0), window);
  },

  async rpcStart(plan) {
    const clients: RpcClient[] = [];
    const { failed } = await runPool(plan.connections, 50, async () => {
      const client = await withTimeout(createRpcClient(plan.kind, { url: plan.url, group: 0, recorder, rpcCall: plan.call ?? 'ping', ...(plan.encoding ? { encoding: plan.encoding } : {}) }), STEP_TIMEOUT_MS, 'connect');
      await withTimeout(client.call(), STEP_TIMEOUT_MS, 'first call'); // the connection is open and answering
      clients.push(client);
    });
    if (failed > 0) throw new Error(`${failed} of ${plan.connections} RPC connections failed`);
    const state = { running: true, clients, loops: [] as Promise<void>[] };
    for (const client of clients) {
      for (let i = 0; i < plan.depth; i++) {
        state.loops.push(
          (async () => {
            while (state.running) {
              const start = nowMs();
              try {
                await client.call();
                recorder.latency(0, nowMs() - start);
              } catch {
                recorder.error();
                await sleep(10);
              }
            }
          })(),
        );
      }
    }
    rpc = state;
    return { connections: clients.length };
  },

  async rpcStop() {
    if (!rpc) return null;
    const state = rpc;
    rpc = null;
    state.running = false;
    await Promise.race([Promise.all(state.loops), sleep(5_000)]);
    await Promise.all(state.clients.map((client) => client.close().catch(() => undefined)));
    return null;
  },

  armStorm({ startMs }) {
    storm = { startMs, resumeTimes: [] };
    reconnectStats.attempts = 0;
    reconnectStats.failed = 0;
    for (const client of subscribers) client.armResume?.();
    return null;
  },

  async waitResumed({ timeoutMs }) {
    const deadline = nowMs() + timeoutMs;
    const resumable = subscribers.filter((client) => client.armResume);
    while (nowMs() < deadline && resumable.some((client) => !client.resumed)) await sleep(20);
    const times = storm?.resumeTimes ?? [];
    const histogram = new Histogram();
    for (const ms of times) histogram.record(ms);
    return {
      clients: resumable.length,
      resumed: times.length,
      resumeMs: histogram.summary(),
      lastResumeMs: times.length > 0 ? Math.max(...times) : Number.NaN,
      connectAttempts: reconnectStats.attempts,
      failedAttempts: reconnectStats.failed,
    };
  },

  async closeAll() {
    for (const client of [...subscribers, ...unsubscribed]) client.close();
    subscribers = [];
    unsubscribed = [];
    storm = null;
    await sleep(100);
    return null;
  },
});

emitEvent('ready', { port: 0, nofile: openFileLimit() });
