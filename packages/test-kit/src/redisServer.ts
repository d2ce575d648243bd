/** A redis-server process of a test's own, for tests that kill and restart Redis. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@herald/server/testing';
import type { Cleanup } from './cleanup.js';
import { kill } from './spawn.js';

/** Sends one inline PING to a Redis on 127.0.0.1:`port`; true on +PONG. Bounded by `timeoutMs`. */
function redisPing(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

/** A redis-server child process, without persistence, restartable on its port. */
export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  running(): boolean;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was persisted); resolves once it answers PING. */
  start(): Promise<void>;
  output(): string;
  /** Sends `signal` to the process: SIGSTOP pauses it (connections stay open, nothing is answered), SIGCONT resumes it. */
  signal(signal: NodeJS.Signals): void;
}

/** Starts `redis-server` (the path of the executable, then `extraArgs`) on a spare 127.0.0.1 port; `cleanup` kills it. */
export async function startRedisServer(cleanup: Cleanup, redisServer: string, extraArgs: readonly string[] = []): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  cleanup.defer(() => rmSync(dir, { recursive: true, force: true }));
  let child: ChildProcess | null = null;
  let output = '';
  let port = 0;

  async function launch(onPort: number): Promise<boolean> {
    const started = spawn(
      redisServer,
      ['--port', String(onPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', ...extraArgs],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Nothing announces that Redis accepts connections: ask it, bounded.
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if (started.exitCode !== null) return false; // e.g. the port was taken meanwhile
      if (await redisPing(onPort)) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await kill(started);
    throw new Error(`redis-server on port ${onPort} did not answer within 5 s:\n${output}`);
  }

  cleanup.defer(async () => {
    if (child) await kill(child);
  });
  // A spare port can be taken between finding it and binding it: try a few.
  for (let attempt = 0; attempt < 5 && port === 0; attempt++) {
    const candidate = await freePort();
    if (await launch(candidate)) port = candidate;
  }
  if (port === 0) throw new Error(`redis-server did not start on a spare port:\n${output}`);

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    async kill() {
      if (child) await kill(child);
    },
    async start() {
      if (!(await launch(port))) throw new Error(`redis-server could not start again on port ${port}:\n${output}`);
    },
    output: () => output,
    signal(signal) {
      if (child) child.kill(signal);
    },
  };
}
