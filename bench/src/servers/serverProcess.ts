// A server under test, in its own process (pinned by the orchestrator):
//   serverProcess.ts '<ServerConfig as JSON>'
// Says `ready` with its port over IPC, then answers the orchestrator's commands.
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { emitEvent, serveIpc } from '../lib/ipc.js';
import { makeMessage, nowMs } from '../lib/payload.js';
import { openFileLimit, writeSyscalls } from '../lib/proc.js';
import type { ServerCommands, ServerConfig } from '../lib/protocol.js';
import { startSystem } from './index.js';
import { MajorGcs } from './majorGcs.js';
import { Publisher } from './publisher.js';

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
const server = await startSystem(config);
let n = 0;
/** The binary payload every message carries when the config asks for one (the same bytes each time: it is the size that counts). */
const bytes = config.binaryBytes ? new Uint8Array(randomBytes(config.binaryBytes)) : null;
const publisher = new Publisher(() => {
  const message = makeMessage(++n, nowMs(), config.payloadBytes);
  return server.publish(bytes ? { ...message, bytes } : message);
});

/** Started on the first `loopDelay` command, so other scenarios do not pay for its timer. */
let loopMonitor: ReturnType<typeof monitorEventLoopDelay> | null = null;
/** Started on the first `settle` command, like the loop monitor. */
const majorGcs = new MajorGcs();

/** Full collections until the heap stops shrinking (at most five). */
async function collect(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  let before = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    const used = process.memoryUsage().heapUsed;
    if (used >= before * 0.99) break;
    before = used;
  }
}

serveIpc<ServerCommands>(
  {
    async stats({ gc }) {
      if (gc) await collect();
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      return {
        cpu: { userUs: cpu.user, systemUs: cpu.system, atMs: nowMs() },
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        external: memory.external,
        arrayBuffers: memory.arrayBuffers,
        published: publisher.published,
        publishErrors: publisher.errors,
        connections: server.connectionCount(),
        framesIn: server.framesIn ? await server.framesIn() : null,
        stalls: publisher.stalls,
        writeSyscalls: writeSyscalls('self'),
        recomputes: server.recomputes ? server.recomputes() : null,
        majorGcs: majorGcs.count,
      };
    },
    publish(plan) {
      publisher.start(plan);
      return null;
    },
    stop() {
      publisher.stop();
      return { published: publisher.published };
    },
    loopDelay() {
      if (!loopMonitor) {
        loopMonitor = monitorEventLoopDelay({ resolution: 10 });
        loopMonitor.enable();
      }
      const ns = 1e6;
      const delay = { p99Ms: loopMonitor.percentile(99) / ns, maxMs: loopMonitor.max / ns, meanMs: loopMonitor.mean / ns };
      loopMonitor.reset();
      return delay;
    },
    settle({ quietMs, maxMs }) {
      return majorGcs.settle(quietMs, maxMs);
    },
    async heapSnapshot({ path }) {
      await collect();
      return { path: writeHeapSnapshot(path) };
    },
  },
  (type, data) => {
    if (type === 'credit') publisher.acknowledge(data as number);
  },
);

process.on('SIGTERM', () => {
  void server.close().finally(() => process.exit(0));
});
emitEvent('ready', { port: server.port, nofile: openFileLimit() });
