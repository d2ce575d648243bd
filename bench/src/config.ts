/**
 * Scenario sizes and durations: the full suite (about 25 minutes on a
 * 2-core machine) and `--quick` (about 8 minutes, fewer and shorter runs).
 */
export interface SuiteConfig {
  readonly name: 'full' | 'quick';
  readonly fanout: {
    readonly subscribers: readonly number[];
    /** Deliveries per second of the fixed-rate runs (messages/s = this / subscribers). */
    readonly fixedDeliveriesPerSec: number;
    readonly warmupMs: number;
    readonly windowMs: number;
    /** Measurement windows per run: the figure is over all of them, the range across them. */
    readonly windows: number;
    /** Alternating Herald / raw ws rounds of the paired fixed-rate comparison (the targets' figure). */
    readonly pairedRounds: number;
  };
  readonly memory: { readonly connections: number };
  /** The receiving side: each client's CPU per channel message at the fan-out's fixed rate, per subscriber count, in `rounds` rounds. */
  readonly receive: { readonly subscribers: readonly number[]; readonly rounds: number };
  /**
   * One node at its limits: `connections` subscribed clients, idle for
   * `idleMs` with default heartbeats, then one broadcast to all of them;
   * the idle window of the systems the idle ratios compare in `idleRounds` rounds.
   */
  readonly node: { readonly connections: number; readonly idleMs: number; readonly broadcastMs: number; readonly idleRounds: number };
  readonly rpc: { readonly warmupMs: number; readonly windowMs: number; readonly windows: number };
  /** The echo of a small object (calls that carry data): every row measured in `rounds` rounds, reported as medians. */
  readonly rpcEcho: { readonly warmupMs: number; readonly windowMs: number; readonly windows: number; readonly rounds: number };
  readonly reconnect: { readonly clients: number; readonly timeoutMs: number };
  readonly scaleout: { readonly subscribers: number; readonly warmupMs: number; readonly windowMs: number; readonly windows: number };
  /** permessage-deflate: subscribers, and the size of the big messages (the small ones are the fan-out's). */
  readonly deflate: {
    readonly subscribers: number;
    readonly largePayloadBytes: number;
    readonly deliveriesPerSec: number;
    readonly warmupMs: number;
    readonly windowMs: number;
    readonly windows: number;
  };
  /**
   * Herald's HTTP fallback (Server-Sent Events) against its WebSocket, both
   * received by `@herald/client`: a fixed rate for latency
   * (`fixedDeliveriesPerSec`, at most `maxMessagesPerSec` messages/s), then
   * max rate, for each subscriber count.
   */
  readonly sse: {
    readonly subscribers: readonly number[];
    readonly fixedDeliveriesPerSec: number;
    readonly maxMessagesPerSec: number;
    readonly warmupMs: number;
    readonly windowMs: number;
    readonly windows: number;
  };
  /**
   * Instruction counts under callgrind (tens of times slower than native):
   * messages published one per tick at `deliveriesPerSec / subscribers`,
   * a warm-up and then the counted stretch, both in deliveries.
   */
  readonly instructions: {
    readonly subscribers: readonly number[];
    readonly deliveriesPerSec: number;
    readonly warmupDeliveries: number;
    readonly deliveries: number;
    /** RPC: `ping` from the minimal wire client on `connections` connections, one call in flight each. */
    readonly rpc: { readonly connections: number; readonly warmupMs: number; readonly windowMs: number };
  };
  /**
   * JSON against MessagePack frames (`encoding`), in the same run: the fan-out
   * at these subscriber counts (fixed rate and max rate), a message carrying
   * `binaryBytes` of bytes, `@herald/client` receiving, and RPC at
   * `rpcConnections` connections.
   */
  readonly encoding: {
    readonly subscribers: readonly number[];
    readonly fixedDeliveriesPerSec: number;
    readonly binaryBytes: number;
    readonly binarySubscribers: number;
    readonly binaryDeliveriesPerSec: number;
    readonly clientSubscribers: number;
    readonly clientDeliveriesPerSec: number;
    readonly rpcConnections: number;
    readonly warmupMs: number;
    readonly windowMs: number;
    readonly windows: number;
  };
  /** The durable outbox: offline backlogs of these sizes recorded, reloaded and drained, on the memory and file stores. */
  readonly outbox: { readonly sizes: readonly number[] };
  /** OpenTelemetry's cost: subscribers of the fan-out load, its fixed rate, and rounds of every mode in turn (scenarios/tracing.ts). */
  readonly tracing: {
    readonly subscribers: number;
    readonly deliveriesPerSec: number;
    readonly rounds: number;
    readonly warmupMs: number;
    readonly windowMs: number;
    readonly windows: number;
  };
  /**
   * Clients that do not play by the rules, against Herald's production
   * defaults. Unread answers: the server sampled for `baselineMs`, then for
   * `windowMs` once the non-readers have sent (past `httpWriteTimeoutMs`,
   * 30 s by default, so that the server dropping them is in the window),
   * then `afterMs` once they are gone. Decode cost: `frames` frames of each kind.
   */
  readonly abuse: { readonly baselineMs: number; readonly windowMs: number; readonly afterMs: number; readonly frames: number };
  /**
   * Live queries against a channel (scenarios/live.ts): `subscribers` over
   * each count of distinct inputs in `inputs`, `publishesPerSec` publishes
   * round-robin over them, measured as the fan-out is.
   */
  readonly live: {
    readonly subscribers: number;
    readonly inputs: readonly number[];
    readonly publishesPerSec: number;
    readonly warmupMs: number;
    readonly windowMs: number;
    readonly windows: number;
  };
}

/** The encoding scenario's load, the same in both suites (only its windows differ). */
const ENCODING_LOAD = {
  subscribers: [100, 1_000],
  fixedDeliveriesPerSec: 20_000,
  binaryBytes: 65_536,
  binarySubscribers: 10,
  binaryDeliveriesPerSec: 500,
  clientSubscribers: 100,
  clientDeliveriesPerSec: 5_000,
  rpcConnections: 100,
} as const;

export const FULL: SuiteConfig = {
  name: 'full',
  fanout: { subscribers: [100, 1_000, 5_000], fixedDeliveriesPerSec: 20_000, warmupMs: 1_500, windowMs: 2_000, windows: 3, pairedRounds: 5 },
  memory: { connections: 10_000 },
  receive: { subscribers: [100, 1_000], rounds: 3 },
  node: { connections: 15_000, idleMs: 30_000, broadcastMs: 2_000, idleRounds: 3 },
  rpc: { warmupMs: 1_000, windowMs: 1_500, windows: 2 },
  rpcEcho: { warmupMs: 1_000, windowMs: 1_500, windows: 2, rounds: 3 },
  reconnect: { clients: 5_000, timeoutMs: 60_000 },
  scaleout: { subscribers: 1_000, warmupMs: 1_500, windowMs: 2_000, windows: 3 },
  deflate: { subscribers: 1_000, largePayloadBytes: 4_096, deliveriesPerSec: 5_000, warmupMs: 1_500, windowMs: 2_000, windows: 3 },
  sse: { subscribers: [1, 50], fixedDeliveriesPerSec: 2_500, maxMessagesPerSec: 200, warmupMs: 1_000, windowMs: 1_500, windows: 3 },
  instructions: {
    subscribers: [100, 1_000],
    deliveriesPerSec: 2_000,
    warmupDeliveries: 50_000,
    deliveries: 20_000,
    rpc: { connections: 100, warmupMs: 10_000, windowMs: 10_000 },
  },
  outbox: { sizes: [1_000, 10_000, 100_000] },
  tracing: { subscribers: 1_000, deliveriesPerSec: 20_000, rounds: 3, warmupMs: 1_000, windowMs: 2_000, windows: 2 },
  encoding: { ...ENCODING_LOAD, warmupMs: 1_500, windowMs: 2_000, windows: 3 },
  abuse: { baselineMs: 2_000, windowMs: 40_000, afterMs: 5_000, frames: 30 },
  live: { subscribers: 1_000, inputs: [1, 100], publishesPerSec: 100, warmupMs: 1_500, windowMs: 2_000, windows: 3 },
};

export const QUICK: SuiteConfig = {
  name: 'quick',
  fanout: { subscribers: [100, 1_000], fixedDeliveriesPerSec: 20_000, warmupMs: 500, windowMs: 800, windows: 2, pairedRounds: 2 },
  memory: { connections: 2_000 },
  receive: { subscribers: [100, 1_000], rounds: 1 },
  node: { connections: 15_000, idleMs: 15_000, broadcastMs: 2_000, idleRounds: 1 },
  rpc: { warmupMs: 300, windowMs: 700, windows: 1 },
  rpcEcho: { warmupMs: 300, windowMs: 700, windows: 1, rounds: 1 },
  reconnect: { clients: 1_000, timeoutMs: 30_000 },
  scaleout: { subscribers: 300, warmupMs: 500, windowMs: 800, windows: 2 },
  deflate: { subscribers: 300, largePayloadBytes: 4_096, deliveriesPerSec: 5_000, warmupMs: 500, windowMs: 800, windows: 2 },
  sse: { subscribers: [1, 20], fixedDeliveriesPerSec: 2_500, maxMessagesPerSec: 200, warmupMs: 300, windowMs: 700, windows: 1 },
  instructions: {
    subscribers: [100],
    deliveriesPerSec: 2_000,
    warmupDeliveries: 30_000,
    deliveries: 10_000,
    rpc: { connections: 100, warmupMs: 5_000, windowMs: 5_000 },
  },
  // The same sizes: the 100,000-entry backlog is the point of the scenario.
  outbox: { sizes: [1_000, 10_000, 100_000] },
  tracing: { subscribers: 1_000, deliveriesPerSec: 20_000, rounds: 5, warmupMs: 500, windowMs: 800, windows: 1 },
  // The same load: the subscriber counts and the 64 KiB payload are what the scenario compares at.
  encoding: { ...ENCODING_LOAD, warmupMs: 500, windowMs: 800, windows: 2 },
  // The same window: the drop comes at httpWriteTimeoutMs (30 s), whose default is the point.
  abuse: { baselineMs: 2_000, windowMs: 40_000, afterMs: 5_000, frames: 30 },
  // The same subscribers and rate: they are the scenario's point.
  live: { subscribers: 1_000, inputs: [1, 100], publishesPerSec: 100, warmupMs: 1_000, windowMs: 1_500, windows: 2 },
};

/**
 * Messages a credit (max-rate) run may have unacknowledged: about 64k
 * deliveries in flight (enough to keep both cores busy), 8 to 64 messages.
 */
export function creditWindow(subscribers: number): number {
  return Math.min(64, Math.max(8, Math.ceil(65_536 / subscribers)));
}
