/**
 * What the orchestrator, the server processes and the load generator say to
 * each other over IPC.
 */
import type { LatencySummary } from './stats.js';

/** The systems compared. `raw-ws-*` are one `ws` server with two ways to send. */
export type SystemName = 'raw-ws-string' | 'raw-ws-frame' | 'raw-ws-trpc' | 'raw-ws-ping' | 'raw-ws-textping' | 'trpc' | 'socketio' | 'herald';

/**
 * Load-generator clients: cheap receivers for fan-out, real clients for RPC.
 * `herald-client` is `@herald/client` itself, over either of its transports.
 */
export type SubscriberKind = 'raw-ws' | 'trpc-wire' | 'socketio' | 'herald-client';
export type RpcKind = 'trpc-wire' | 'herald-client' | 'trpc-client' | 'socketio-wire' | 'socketio-client';
/** What an RPC call carries: `ping` takes nothing and returns a string; `echo` sends `ECHO_INPUT` and gets it back. */
export type RpcCall = 'ping' | 'echo';

/** Room `index` of a many-room run (`ServerConfig.rooms`, `ConnectPlan.rooms`). */
export const roomOf = (index: number): string => `bench-${index}`;

export interface ServerConfig {
  readonly system: SystemName;
  /** 0 picks a free port. */
  readonly port: number;
  /** Herald only: the Redis broker instead of the memory one, on one Redis (`url`) or a Redis Cluster (`clusterUrls`). */
  readonly redis?: { readonly url?: string; readonly clusterUrls?: readonly string[]; readonly prefix: string };
  /** Herald only: publish round-robin over this many rooms (`bench-0`, `bench-1`, ...) instead of the one `ROOM`. */
  readonly rooms?: number;
  readonly nodeId?: string;
  /** Herald only: permessage-deflate (`compression`), off when absent. */
  readonly compression?: { readonly threshold: number; readonly contextTakeover: boolean };
  /** Length of each published message's JSON (default `PAYLOAD_BYTES`). */
  readonly payloadBytes?: number;
  /** Herald only: OpenTelemetry not installed, installed without an SDK (the default), or with one (servers/tracing.ts). */
  readonly tracing?: TracingMode;
  /** Herald only: `'fetch'` serves the HTTP door through the fetch handler in a Hono app (`@hono/node-server`); the Node door otherwise. */
  readonly httpDoor?: 'node' | 'fetch';
  /** Herald only: each message also carries this many bytes as a `Uint8Array` (`bytes`), absent when 0 or unset. */
  readonly binaryBytes?: number;
}

/** The subscription of the live-query runs: `herald.live` over the newest message of a room (Herald's bench app). */
export const LIVE_SUBSCRIPTION_PATH = 'onLatest';

/** `ServerConfig.tracing`. */
export type TracingMode = 'absent' | 'no-sdk' | 'sdk';

/** What WebSocket frames are made of (trpc-wire and herald-client): JSON text, or MessagePack (`herald.msgpack`). */
export type WireEncoding = 'json' | 'msgpack';

/** Event-loop delay over a window, in ms (of the 10 ms monitor timer: a loop held for d ms shows as about d). */
export interface LoopDelay {
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

export interface CpuSample {
  /** process.cpuUsage(), µs. */
  readonly userUs: number;
  readonly systemUs: number;
  /** When it was taken (ms, shared clock). */
  readonly atMs: number;
}

export interface ServerStats {
  readonly cpu: CpuSample;
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  readonly published: number;
  readonly publishErrors: number;
  readonly connections: number;
  /** Frames received so far (Herald: every frame; bare ws with pings: pongs), or null where the system does not count them. */
  readonly framesIn: number | null;
  /** Times the credit loop waited over a second for the load generator and went on anyway. */
  readonly stalls: number;
  /** Write-type system calls (write, writev) the process has made so far; null off Linux. */
  readonly writeSyscalls: number | null;
  /** Herald: runs of the live query so far (its recomputes); null elsewhere. */
  readonly recomputes: number | null;
  /** Full collections (mark-compacts) since the first `settle` command; null before it. */
  readonly majorGcs: number | null;
}

/**
 * How the server publishes: at a fixed rate, or as fast as the subscribers
 * take messages (closed loop: at most `windowMessages` messages unacknowledged,
 * acknowledgements being the load generator's delivery count relayed as notes).
 */
export type PublishPlan =
  /** `count`: stop after that many messages (default: until told to stop). */
  | { readonly mode: 'fixed'; readonly messagesPerSec: number; readonly count?: number }
  | { readonly mode: 'credit'; readonly subscribers: number; readonly windowMessages: number }
  | { readonly mode: 'burst'; readonly count: number };

// Type aliases, not interfaces: they satisfy `CommandMap`'s index signature implicitly.
export type ServerCommands = {
  stats: { args: { gc: boolean }; result: ServerStats };
  publish: { args: PublishPlan; result: null };
  stop: { args: null; result: { published: number } };
  /**
   * The event loop's delay since the last call (`perf_hooks.monitorEventLoopDelay`,
   * 10 ms resolution): how late its timer fired, so the longest stretch the loop was held.
   */
  loopDelay: { args: null; result: LoopDelay };
  /**
   * Resolves once no full collection has run for `quietMs` (or after `maxMs`):
   * the heap settled after connecting, before a window that measures a quiet server.
   */
  settle: { args: { quietMs: number; maxMs: number }; result: { waitedMs: number; settled: boolean } };
  /** For investigating memory: a V8 heap snapshot of the server process, after full collections. */
  heapSnapshot: { args: { path: string }; result: { path: string } };
};

export interface ConnectPlan {
  readonly kind: SubscriberKind;
  /** Client i connects to urls[i % urls.length]. */
  readonly urls: readonly string[];
  /** The latency group of each url's clients (default: one group per url). */
  readonly groups?: readonly number[];
  readonly count: number;
  readonly subscribe: boolean;
  /**
   * trpc-wire only: subscribe to one of this many rooms (`bench-0`, ...) instead of the one `ROOM`;
   * client i joins room floor(i / urls.length) % rooms, so every room has clients on every url.
   */
  readonly rooms?: number;
  /** trpc-wire only: offer permessage-deflate (as browsers and `ws` do by default). */
  readonly deflate?: boolean;
  /** trpc-wire only: subscribe to the live query's form (`LIVE_SUBSCRIPTION_PATH`) instead of the room's channel. */
  readonly live?: boolean;
  /** trpc-wire and herald-client: the encoding of their frames (default `'json'`). */
  readonly encoding?: WireEncoding;
  /** herald-client only: its `transport` (default `'websocket'`; `'http'` subscribes over Server-Sent Events). */
  readonly transport?: 'websocket' | 'http';
  /** Connection attempts in flight at once. */
  readonly concurrency: number;
  /** trpc-wire only: reconnect on close after a full-jitter delay, resubscribing with lastEventId. */
  readonly reconnect: { readonly baseMs: number; readonly capMs: number } | null;
}

export interface RpcPlan {
  readonly kind: RpcKind;
  readonly url: string;
  readonly connections: number;
  /** Calls each connection keeps in flight. */
  readonly depth: number;
  /** trpc-wire and herald-client: the encoding of their frames (default `'json'`). */
  readonly encoding?: WireEncoding;
  /** What each call carries. @default 'ping' */
  readonly call?: RpcCall;
}

/** One measurement window of the load generator, and the run so far. */
export interface LoadgenSnapshot {
  /** Deliveries (fan-out) or completed calls (RPC) in this window. */
  readonly events: number;
  readonly errors: number;
  /** Latencies in this window: all clients, and per group. */
  readonly all: LatencySummary;
  readonly groups: readonly LatencySummary[];
  /** Latencies of every window since the run started (the warm-up excluded). */
  readonly runAll: LatencySummary;
  readonly runGroups: readonly LatencySummary[];
  readonly cpu: CpuSample;
  readonly connections: number;
  /** Bytes the subscribers' TCP sockets read in this window (trpc-wire clients; 0 for others). */
  readonly wireBytes: number;
}

export interface StormResult {
  readonly clients: number;
  readonly resumed: number;
  /** Per resumed client: ms from the storm's start to its first live marker after reconnecting. */
  readonly resumeMs: LatencySummary;
  readonly lastResumeMs: number;
  readonly connectAttempts: number;
  readonly failedAttempts: number;
}

export type LoadgenCommands = {
  connect: { args: ConnectPlan; result: { connected: number; failed: number; ms: number } };
  subscribe: { args: null; result: { subscribed: number; ms: number } };
  /** Zeroes counters and latencies; `creditStep` > 0 turns on progress events every that many deliveries. */
  reset: { args: { creditStep: number }; result: null };
  /** Closes a window; `startRun` discards everything before it (the warm-up). */
  snapshot: { args: { startRun: boolean }; result: LoadgenSnapshot };
  rpcStart: { args: RpcPlan; result: { connections: number } };
  rpcStop: { args: null; result: null };
  /** Marks every client as not resumed; the storm starts at `startMs` (shared clock). */
  armStorm: { args: { startMs: number }; result: null };
  waitResumed: { args: { timeoutMs: number }; result: StormResult };
  closeAll: { args: null; result: null };
};
