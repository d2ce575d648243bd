import { constants as zlib, deflateRawSync } from 'node:zlib';

/**
 * One message, framed once and written to many sockets as it is: a channel
 * message reaches every subscriber that shares a subscription id and an
 * encoding for one serialization, one frame header and, with
 * permessage-deflate without context takeover, one compression (`ws` would
 * compress it once per socket). A string is a text frame (JSON), bytes a
 * binary one (MessagePack).
 */
export class PreparedFrame {
  /** The message's bytes: a view into the uncompressed frame, encoded once. */
  readonly payload: Buffer;
  /** Whether it is a binary frame (opcode 2) rather than a text one. */
  readonly binary: boolean;
  private readonly plain: Buffer;
  /** Compressed frames by the window size the peer negotiated (almost always one: 15). */
  private deflated: Map<number, Buffer> | null = null;

  constructor(message: string | Uint8Array) {
    if (typeof message === 'string') {
      const length = Buffer.byteLength(message);
      this.binary = false;
      this.plain = textFrame(message, length);
      this.payload = this.plain.subarray(this.plain.length - length);
    } else {
      this.binary = true;
      this.plain = binaryFrame(message);
      this.payload = this.plain.subarray(this.plain.length - message.length);
    }
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
      frame = frameOf(compressed.subarray(0, compressed.length - 4), true, this.binary);
      cache.set(windowBits, frame);
    }
    return frame;
  }
}

/** A final, unmasked (server-to-client) frame (RFC 6455 §5.2). */
function frameOf(payload: Uint8Array, compressed: boolean, binary: boolean): Buffer {
  const frame = Buffer.allocUnsafe(headerLengthOf(payload.length) + payload.length);
  frame.set(payload, writeHeader(frame, payload.length, compressed, binary));
  return frame;
}

/** A final, unmasked, uncompressed binary frame of `payload`. */
export function binaryFrame(payload: Uint8Array): Buffer {
  return frameOf(payload, false, true);
}

/** `frameOf` for a string of `length` UTF-8 bytes: one allocation, no intermediate Buffer. */
export function textFrame(text: string, length: number): Buffer {
  const frame = Buffer.allocUnsafe(headerLengthOf(length) + length);
  frame.write(text, writeHeader(frame, length, false, false), 'utf8');
  return frame;
}

function headerLengthOf(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** Writes the header of a payload of `length` bytes; returns where the payload starts. */
function writeHeader(frame: Buffer, length: number, compressed: boolean, binary: boolean): number {
  frame[0] = (binary ? 0x82 : 0x81) | (compressed ? 0x40 : 0); // FIN, RSV1 when compressed, opcode 2 (binary) or 1 (text)
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

