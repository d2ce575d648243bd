import { constants as zlib, deflateRawSync } from 'node:zlib';
import type { WebSocket } from 'ws';

/**
 * One text message, framed once and written to many sockets as it is: a
 * channel message reaches every subscriber that shares a subscription id for
 * one serialization, one frame header and, with permessage-deflate without
 * context takeover, one compression (`ws` would compress it once per socket).
 */
export class PreparedFrame {
  /** The message's UTF-8 bytes: a view into the uncompressed frame, encoded once. */
  readonly payload: Buffer;
  private readonly plain: Buffer;
  /** Compressed frames by the window size the peer negotiated (almost always one: 15). */
  private deflated: Map<number, Buffer> | null = null;

  constructor(text: string) {
    const length = Buffer.byteLength(text);
    this.plain = textFrame(text, length);
    this.payload = this.plain.subarray(this.plain.length - length);
  }

  /** The whole frame, uncompressed. */
  plainFrame(): Buffer {
    return this.plain;
  }

  /**
   * The whole frame compressed on its own (RFC 7692 §7.2.1: a raw deflate
   * stream ending in a sync flush, whose `00 00 ff ff` tail is left off).
   * Valid only for a peer that agreed to `server_no_context_takeover`.
   */
  deflatedFrame(windowBits: number, level: number): Buffer {
    const cache = (this.deflated ??= new Map());
    let frame = cache.get(windowBits);
    if (!frame) {
      const compressed = deflateRawSync(this.payload, { level, windowBits, finishFlush: zlib.Z_SYNC_FLUSH });
      frame = frameOf(compressed.subarray(0, compressed.length - 4), true);
      cache.set(windowBits, frame);
    }
    return frame;
  }
}

/** A final, unmasked (server-to-client) text frame (RFC 6455 §5.2). */
function frameOf(payload: Buffer, compressed: boolean): Buffer {
  const frame = Buffer.allocUnsafe(headerLengthOf(payload.length) + payload.length);
  payload.copy(frame, writeHeader(frame, payload.length, compressed));
  return frame;
}

/** `frameOf` for a string of `length` UTF-8 bytes: one allocation, no intermediate Buffer. */
function textFrame(text: string, length: number): Buffer {
  const frame = Buffer.allocUnsafe(headerLengthOf(length) + length);
  frame.write(text, writeHeader(frame, length, false), 'utf8');
  return frame;
}

function headerLengthOf(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** Writes the header of a payload of `length` bytes; returns where the payload starts. */
function writeHeader(frame: Buffer, length: number, compressed: boolean): number {
  frame[0] = 0x81 | (compressed ? 0x40 : 0); // FIN, RSV1 when compressed, opcode 1 (text)
  if (length < 126) {
    frame[1] = length;
    return 2;
  }
  if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
    return 4;
  }
  frame[1] = 127;
  frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
  frame.writeUInt32BE(length >>> 0, 6);
  return 10;
}

/**
 * The parts of `ws`'s internals a prepared frame needs: its sender (to write
 * a finished frame, and to see whether earlier messages are still queued
 * behind a compression) and the negotiated extensions. Socket.IO's
 * engine.io writes its pre-encoded frames through the same `sendFrame`.
 */
interface WsInternals {
  readonly _sender?: {
    readonly _state?: unknown;
    readonly _queue?: unknown;
    sendFrame?: (list: Buffer[]) => void;
  } | null;
  readonly _extensions?: Record<string, { readonly params?: Record<string, unknown> } | undefined>;
}

/** `ws`'s sender state when nothing is being compressed or read ahead of the next frame. */
const SENDER_IDLE = 0;

/**
 * Writes finished frames to one socket. Each method returns false when the
 * frame must take `ws.send` instead: `ws`'s sender is busy (earlier messages
 * are still being compressed and must leave first; `ws.send` queues behind
 * them), or `ws` would compress this frame for this socket itself.
 */
export interface FrameWriter {
  /** A frame shared by many sockets. */
  prepared(frame: PreparedFrame): boolean;
  /** A frame for this socket only (an answer, a notice) of `byteLength` UTF-8 bytes: built and written in one piece. */
  text(text: string, byteLength: number): boolean;
}

const NEVER: FrameWriter = { prepared: () => false, text: () => false };

type Sender = Required<NonNullable<WsInternals['_sender']>>;

/** A class rather than closures: one small object per connection (memory per connection is a target). */
class SocketFrameWriter implements FrameWriter {
  constructor(
    private readonly sender: Sender & { readonly _queue: unknown[] },
    /** Payloads from this size on are compressed on this socket (by us when shared, else by `ws`). */
    private readonly compressFrom: number,
    /** The window size to share compressed frames with, or 0 when this socket cannot take them. */
    private readonly sharedWindowBits: number,
    private readonly level: number,
  ) {}

  prepared(frame: PreparedFrame): boolean {
    if (frame.payload.length < this.compressFrom) return this.write(frame.plainFrame());
    return this.sharedWindowBits > 0 && this.write(frame.deflatedFrame(this.sharedWindowBits, this.level));
  }

  text(text: string, byteLength: number): boolean {
    return byteLength < this.compressFrom && this.write(textFrame(text, byteLength));
  }

  private write(frame: Buffer): boolean {
    if (this.sender._state !== SENDER_IDLE || this.sender._queue.length > 0) return false;
    this.sender.sendFrame([frame]);
    return true;
  }
}

/**
 * How finished frames reach `socket`, decided once per connection from what
 * its handshake negotiated. Frames `ws` would not compress (no
 * permessage-deflate, or under the threshold) are written as they are; with
 * no context takeover a prepared frame's compressed form is shared too.
 * Anything else, or `ws` internals of an unexpected shape: `ws.send`.
 */
export function frameWriterFor(socket: WebSocket, compression: { readonly threshold: number; readonly level: number } | null): FrameWriter {
  const internals = socket as unknown as WsInternals;
  const sender = internals._sender;
  if (!sender || typeof sender.sendFrame !== 'function' || sender._state !== SENDER_IDLE || !Array.isArray(sender._queue)) return NEVER;
  const deflate = internals._extensions?.['permessage-deflate'];
  const params = deflate?.params ?? {};
  const windowBits = typeof params.server_max_window_bits === 'number' ? params.server_max_window_bits : zlib.Z_DEFAULT_WINDOWBITS;
  // Without context takeover every message is compressed on its own, so one compressed frame fits every such peer;
  // zlib makes raw deflate's 8-bit window a 9-bit one, which a peer that asked for 8 cannot inflate.
  const shareCompressed = deflate !== undefined && compression !== null && params.server_no_context_takeover === true && windowBits >= 9;
  return new SocketFrameWriter(
    sender as Sender & { readonly _queue: unknown[] },
    deflate ? (compression?.threshold ?? 0) : Number.POSITIVE_INFINITY,
    shareCompressed ? windowBits : 0,
    compression?.level ?? zlib.Z_DEFAULT_COMPRESSION,
  );
}
