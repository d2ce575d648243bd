import { constants as zlib, deflateRawSync } from 'node:zlib';
import type { WebSocket } from 'ws';

/**
 * One text message, framed once and written to many sockets as it is: a
 * channel message reaches every subscriber that shares a subscription id for
 * one serialization, one frame header and, with permessage-deflate without
 * context takeover, one compression (`ws` would compress it once per socket).
 */
export class PreparedFrame {
  readonly payload: Buffer;
  private plain: Buffer | null = null;
  /** Compressed frames by the window size the peer negotiated (almost always one: 15). */
  private deflated: Map<number, Buffer> | null = null;

  constructor(text: string) {
    this.payload = Buffer.from(text);
  }

  /** The whole frame, uncompressed. */
  plainFrame(): Buffer {
    return (this.plain ??= frameOf(this.payload, false));
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
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81 | (compressed ? 0x40 : 0); // FIN, RSV1 when compressed, opcode 1 (text)
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
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

/** Writes a prepared frame to one socket; false when this socket must take `ws.send` instead. */
export type FrameWriter = (frame: PreparedFrame) => boolean;

const never: FrameWriter = () => false;

/**
 * How prepared frames reach `socket`, decided once per connection from what
 * its handshake negotiated: uncompressed frames as they are; compressed
 * ones shared when the peer agreed to no context takeover (frames under
 * `threshold` go uncompressed, as `ws` would send them); otherwise, or if
 * `ws`'s internals are not the expected shape, never (the caller uses
 * `ws.send`, which compresses per socket).
 */
export function frameWriterFor(socket: WebSocket, compression: { readonly threshold: number; readonly level: number } | null): FrameWriter {
  const internals = socket as unknown as WsInternals;
  const sender = internals._sender;
  if (!sender || typeof sender.sendFrame !== 'function' || sender._state !== SENDER_IDLE || !Array.isArray(sender._queue)) return never;
  const queue = sender._queue as unknown[];
  // Earlier messages still being compressed must leave first: then `ws.send` queues this one behind them.
  const idle = () => sender._state === SENDER_IDLE && queue.length === 0;

  const deflate = internals._extensions?.['permessage-deflate'];
  if (!deflate) {
    return (frame) => {
      if (!idle()) return false;
      sender.sendFrame!([frame.plainFrame()]);
      return true;
    };
  }
  const params = deflate.params ?? {};
  if (!compression || params.server_no_context_takeover !== true) return never;
  const windowBits = typeof params.server_max_window_bits === 'number' ? params.server_max_window_bits : zlib.Z_DEFAULT_WINDOWBITS;
  // zlib makes raw deflate's 8-bit window a 9-bit one, which such a peer cannot inflate.
  if (windowBits < 9) return never;
  const { threshold, level } = compression;
  return (frame) => {
    if (!idle()) return false;
    sender.sendFrame!([frame.payload.length < threshold ? frame.plainFrame() : frame.deflatedFrame(windowBits, level)]);
    return true;
  };
}
