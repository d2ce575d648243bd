import type { AnyRouter, TRPCError } from '@trpc/server';
import type { Logger } from 'pino';
import type { ErrorContext } from '../calls/outcome.js';
import type { OpeningSubscriptions } from '../calls/ordering.js';
import type { CallRunner } from '../calls/runner.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { Caller, RequestGate } from '../transport/gate.js';
import type { PreparedFrame } from './preparedFrame.js';
import type { BinaryWire } from './binaryWire.js';
import type { Envelope, Wire } from './wire.js';

/**
 * What every connection of one door shares: built once by the handler, so
 * a connection holds a reference, not a copy or closures of its own (a
 * per-connection closure here would keep each upgrade request alive).
 */
export interface DoorConfig<TRouter extends AnyRouter = AnyRouter> {
  readonly gate: RequestGate;
  readonly runner: CallRunner<TRouter>;
  /** Frames for JSON connections (text). */
  readonly wire: Wire;
  /** The same frames for MessagePack connections (binary). */
  readonly binaryWire: BinaryWire;
  /** Bytes queued for one socket before it is closed as a slow consumer. */
  readonly maxBufferedBytes: number;
  /** Time a client has to send its `connectionParams` after the upgrade. */
  readonly connectionParamsTimeoutMs: number;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
}

/** A call a connection holds under its request id until it is answered or stopped. */
export interface HostedCall {
  readonly type: 'query' | 'mutation' | 'subscription';
  /** A channel subscription's procedure path and, once open, its topic (`NativeSubscription`), for the admin page. */
  readonly path?: string | undefined;
  readonly topic?: string | undefined;
  /** Cancels it (a query's or mutation's signal) or ends it (a subscription). */
  stop(): void;
}

/**
 * What one request's handling (dispatch.ts, subscriptions.ts) needs of the
 * connection it came on: its caller and context, its calls by request id,
 * the ordering of its subscriptions, and its writes. `Connection`
 * implements it; nothing here reaches into the socket.
 */
export interface CallHost extends Caller {
  readonly config: DoorConfig;
  /** The context every call on this connection shares (the connection is admitted when a request is handled). */
  readonly ctx: unknown;
  /** When the credentials stop being trusted (ms), or 0 when they do not expire. */
  readonly trustedUntil: number;
  readonly closed: boolean;
  /** Whether it speaks MessagePack (binary frames); decided before its first request is handled. */
  readonly binary: boolean;
  /** Its frame builder: `wire` (JSON text) or `binaryWire` (MessagePack), by its encoding. */
  readonly frames: Wire | BinaryWire;
  /** Subscriptions not live yet: the queries and mutations sent after them wait for them (calls/ordering.ts). */
  readonly opening: OpeningSubscriptions;
  readonly subscriptionCount: number;
  /** The call under `envelope`, if one is running or open. */
  callAt(envelope: Envelope): HostedCall | undefined;
  /** Registers a running call or an open subscription under its request envelope. */
  track(envelope: Envelope, call: HostedCall): void;
  /** Drops `call`, unless another entry took its envelope meanwhile. */
  forget(envelope: Envelope, call: HostedCall): void;
  /** A query or mutation started: the drain waits for it until `answered`. */
  began(): void;
  answered(): void;
  /** Writes a frame `frames` built (text on a JSON connection, bytes on a MessagePack one). */
  send(frame: string | Uint8Array, followed?: boolean): void;
  sendPrepared(frame: PreparedFrame): void;
  sendError(envelope: Envelope, error: TRPCError, context: ErrorContext): void;
  /** Answers a call that failed with its error (reported), unless it was cancelled by the socket closing. */
  fail(envelope: Envelope, call: { readonly aborted: boolean }, context: ErrorContext, cause: unknown): void;
  /** Ends the connection: its credentials expired. */
  expire(): void;
}
