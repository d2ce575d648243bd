import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { IpcClient } from './ipc.js';
import { killProcess, LOADGEN_CORE, SERVER_CORE, spawnBenchProcess, stopProcess } from './proc.js';
import type { LoadgenCommands, ServerCommands, ServerConfig, ServerStats, SubscriberKind, SystemName } from './protocol.js';

const SERVER_ENTRY = fileURLToPath(new URL('../servers/serverProcess.ts', import.meta.url));
const LOADGEN_ENTRY = fileURLToPath(new URL('../clients/loadgenProcess.ts', import.meta.url));

/** Descriptor limit asked for in every child: 10,000 connections and then some. */
const NOFILE = 65_536;

interface Ready {
  readonly port: number;
  readonly nofile: number | null;
}

/** Where clients of each system connect. */
export function urlOf(system: SystemName, port: number): string {
  switch (system) {
    case 'raw-ws-string':
    case 'raw-ws-frame':
    case 'raw-ws-ping':
    case 'raw-ws-textping':
      return `ws://127.0.0.1:${port}/`;
    case 'socketio':
      return `http://127.0.0.1:${port}`;
    case 'raw-ws-trpc':
    case 'trpc':
    case 'herald':
      return `ws://127.0.0.1:${port}/ws`;
  }
}

/** The load-generator client that receives each system's fan-out. */
export function subscriberKindOf(system: SystemName): SubscriberKind {
  switch (system) {
    case 'raw-ws-string':
    case 'raw-ws-frame':
    case 'raw-ws-ping':
    case 'raw-ws-textping':
      return 'raw-ws';
    case 'socketio':
      return 'socketio';
    case 'raw-ws-trpc':
    case 'trpc':
    case 'herald':
      return 'trpc-wire';
  }
}

/** Waits for a bench child's `ready` event (its port), failing if it exits first or takes longer than `timeoutMs`. */
export async function waitReady(
  child: ChildProcess,
  ipc: IpcClient<Record<string, { args: unknown; result: unknown }>>,
  label: string,
  timeoutMs = 60_000,
): Promise<Ready> {
  let off = () => {};
  const ready = new Promise<Ready>((resolve) => {
    off = ipc.on('ready', (data) => resolve(data as Ready));
  });
  let timer: NodeJS.Timeout | undefined;
  const failed = Promise.race([
    once(child, 'exit').then(([code, signal]) => {
      throw new Error(`${label} exited (${String(signal ?? code)}) before it was ready`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${label} was not ready after ${timeoutMs / 1000} s`)), timeoutMs);
    }),
  ]);
  try {
    return await Promise.race([ready, failed]);
  } finally {
    off();
    clearTimeout(timer);
  }
}

/** A server under test in its own process, pinned to the server core. */
export class ServerProcess {
  private constructor(
    readonly config: ServerConfig,
    readonly child: ChildProcess,
    readonly ipc: IpcClient<ServerCommands>,
    readonly port: number,
  ) {}

  static async start(
    config: ServerConfig,
    options: { cpuProfDir?: string | undefined; wrapper?: readonly string[]; nodeOptions?: readonly string[]; readyTimeoutMs?: number } = {},
  ): Promise<ServerProcess> {
    const label = `server ${config.system}${config.nodeId ? ` ${config.nodeId}` : ''}`;
    const child = spawnBenchProcess(SERVER_ENTRY, [JSON.stringify(config)], {
      core: SERVER_CORE,
      nofile: NOFILE,
      cpuProfDir: options.cpuProfDir,
      wrapper: options.wrapper,
      nodeOptions: options.nodeOptions,
    });
    const ipc = new IpcClient<ServerCommands>(child, label);
    try {
      const ready = await waitReady(child, ipc, label, options.readyTimeoutMs);
      return new ServerProcess(config, child, ipc, ready.port);
    } catch (error) {
      await killProcess(child);
      throw error;
    }
  }

  get url(): string {
    return urlOf(this.config.system, this.port);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  stats(gc = false): Promise<ServerStats> {
    return this.ipc.request('stats', { gc });
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }

  kill(): Promise<void> {
    return killProcess(this.child);
  }
}

/** The load generator in its own process, pinned to the other core. */
export class LoadgenProcess {
  private constructor(
    readonly child: ChildProcess,
    readonly ipc: IpcClient<LoadgenCommands>,
    readonly nofile: number | null,
  ) {}

  static async start(): Promise<LoadgenProcess> {
    const child = spawnBenchProcess(LOADGEN_ENTRY, [], { core: LOADGEN_CORE, nofile: NOFILE });
    const ipc = new IpcClient<LoadgenCommands>(child, 'load generator');
    try {
      const ready = await waitReady(child, ipc, 'load generator');
      return new LoadgenProcess(child, ipc, ready.nofile);
    } catch (error) {
      await killProcess(child);
      throw error;
    }
  }

  /** Forwards this load generator's delivery counts to `server` as publish credit. */
  relayCredit(server: ServerProcess): () => void {
    return this.ipc.on('progress', (delivered) => server.ipc.note('credit', delivered));
  }

  stop(): Promise<void> {
    return stopProcess(this.child);
  }
}

/** Runs `body` with processes it starts through `track`, and always stops them afterwards. */
export async function withProcesses<T>(
  body: (track: <P extends { stop(): Promise<void> }>(process: P) => P) => Promise<T>,
): Promise<T> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    return await body((process) => {
      started.push(process);
      return process;
    });
  } finally {
    // In start order, so servers (started first) close their sockets first: the side that closes
    // first keeps TIME_WAIT, and a server's port is new every run, so no client port is held up.
    for (const process of started) await process.stop().catch(() => undefined);
  }
}

