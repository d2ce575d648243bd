import { constants as zlib, deflateRawSync } from 'node:zlib';

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
export function textFrame(text: string, length: number): Buffer {
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

