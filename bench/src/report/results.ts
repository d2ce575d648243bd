import type { SuiteConfig } from '../config.js';
import type { AbuseResult } from '../scenarios/abuse.js';
import type { DeflateRow } from '../scenarios/deflate.js';
import type { EncodingRow } from '../scenarios/encoding.js';
import type { InstructionResults } from '../scenarios/instructions.js';
import type { LiveRow } from '../scenarios/live.js';
import type { FanoutRow } from '../scenarios/fanout.js';
import type { PairedRow } from '../scenarios/paired.js';
import type { MemoryRow } from '../scenarios/memory.js';
import type { NodeRow } from '../scenarios/node.js';
import type { OutboxRow } from '../scenarios/outbox.js';
import type { StormRow } from '../scenarios/reconnect.js';
import type { ReceiveRow } from '../scenarios/receive.js';
import type { EchoRow, RpcRow } from '../scenarios/rpc.js';
import type { ScaleResult } from '../scenarios/scaleout.js';
import type { ShardsResult } from '../scenarios/shards.js';
import type { TracingRow } from '../scenarios/tracing.js';
import type { SseRow } from '../scenarios/sse.js';
import type { Environment } from './env.js';

/** Everything one `pnpm bench` run measured; also written as results.json. */
export interface SuiteResults {
  readonly environment: Environment;
  readonly config: SuiteConfig;
  readonly durationSec: number;
  readonly loadAverageAtEnd: string;
  readonly fanout: FanoutRow[];
  /** The fixed-rate comparison with raw ws in alternating rounds (the fixed-rate targets use it). */
  readonly paired: PairedRow[];
  /** Each client's CPU per channel message received. Absent from results written before the scenario existed. */
  readonly receive?: ReceiveRow[];
  readonly memory: MemoryRow[];
  readonly rpc: RpcRow[];
  /** Calls that carry data (an echo), each row in several rounds. Absent from results written before the scenario existed. */
  readonly rpcEcho?: EchoRow[];
  readonly reconnect: StormRow[];
  readonly scaleout: ScaleResult | null;
  readonly deflate: DeflateRow[];
  readonly instructions: InstructionResults;
  /** Herald's HTTP fallback (Server-Sent Events) against its WebSocket. */
  readonly sse: SseRow[];
  /** One node at its limits: idle connections, one broadcast, connect cost (Herald and bare ws). */
  readonly node: NodeRow[];
  /** Absent from results written before the scenario existed. */
  readonly shards?: ShardsResult | null;
  /** The durable outbox's offline backlog: record, reload, drain. Absent from results written before the scenario existed. */
  readonly outbox?: OutboxRow[];
  /** What OpenTelemetry costs the server (scenarios/tracing.ts). Absent from results written before the scenario existed. */
  readonly tracing?: TracingRow[];
  /** Clients that do not play by the rules, against Herald's production defaults. Absent from results written before the scenario existed. */
  readonly abuse?: AbuseResult | null;
  /** Live queries against a channel of the same payload. Absent from results written before the scenario existed. */
  readonly live?: LiveRow[];
  /** JSON against MessagePack frames, in the same run. Absent from results written before the scenario existed. */
  readonly encoding?: EncodingRow[];
  /** Scenarios that failed or were left out, with why. */
  readonly notes: string[];
}
