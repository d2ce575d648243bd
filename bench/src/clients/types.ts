import type { RpcCall } from '../lib/protocol.js';
import type { Recorder } from './recorder.js';

/** What every subscriber client gets: where to connect, its latency group, where to record. */
export interface SubscriberContext {
  readonly url: string;
  readonly group: number;
  readonly recorder: Recorder;
  /** Offer permessage-deflate (trpc-wire clients). */
  readonly deflate?: boolean;
  /** What frames are made of (trpc-wire and herald-client). @default 'json' */
  readonly encoding?: 'json' | 'msgpack';
  /** `@herald/client`'s transport (herald-client subscribers). */
  readonly transport?: 'websocket' | 'http';
  /** The room to subscribe to (trpc-wire clients). @default ROOM */
  readonly room?: string;
  /** Subscribe to the live query over the room's newest message instead of the room (trpc-wire clients). */
  readonly live?: boolean;
  /** What an RPC client's calls carry. @default 'ping' */
  readonly rpcCall?: RpcCall;
}

/** One load-generator connection that receives the fan-out. */
export interface SubscriberClient {
  /** Resolves once the connection is open. */
  connect(): Promise<void>;
  /** Resolves once the subscription is live (its first answer arrived). */
  subscribe(): Promise<void>;
  close(): void;
  /** Bytes its TCP socket has read so far (what crossed the wire, compressed or not), where the client can tell. */
  bytesRead?(): number;
}

/** One connection that makes calls (RPC scenario). */
export interface RpcClient {
  /** One call (the trivial query, or the echo), resolved when its answer arrives. */
  call(): Promise<void>;
  close(): Promise<void>;
}

/** The channel key every bench subscriber joins, and its subscription procedure. */
export const ROOM = 'bench';
export const SUBSCRIPTION_PATH = 'onMessage';
export const QUERY_PATH = 'ping';
export const ECHO_PATH = 'echo';
