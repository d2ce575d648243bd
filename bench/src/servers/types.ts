import type { BenchMessage } from '../lib/payload.js';
import type { ServerConfig } from '../lib/protocol.js';

/** One system under test, as the server process drives it. */
export interface BenchServer {
  readonly port: number;
  connectionCount(): number;
  /** Frames received so far, where the system counts them (while idle: the answers to its heartbeats). */
  framesIn?(): number | Promise<number>;
  /**
   * Sends `message` to every subscriber, the system's own way. A returned
   * promise (Herald's publish) rejects when the message was not published.
   */
  publish(message: BenchMessage): void | Promise<unknown>;
  /** Herald: how many times its live query ran so far. */
  recomputes?(): number;
  close(): Promise<void>;
}

export type StartServer = (config: ServerConfig) => Promise<BenchServer>;

/** The room (channel key) every subscriber of the bench joins. */
export const ROOM = 'bench';
