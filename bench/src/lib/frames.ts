/**
 * Cheap reads from a received frame without parsing it as JSON: the load
 * generator must cost as little as possible per delivery, and costs the same
 * for every system.
 */

const SENT_AT = Buffer.from('"sentAt":');
const TRACKED_ID = Buffer.from('"type":"data","id":"');

function isNumberByte(byte: number): boolean {
  // 0-9 . - + e E
  return (byte >= 48 && byte <= 57) || byte === 46 || byte === 45 || byte === 43 || byte === 101 || byte === 69;
}

/** The JSON number right after `key` in `frame`, or NaN. */
export function numberAfter(frame: Buffer, key: Buffer): number {
  const at = frame.indexOf(key);
  if (at < 0) return Number.NaN;
  const start = at + key.length;
  let end = start;
  while (end < frame.length && isNumberByte(frame[end]!)) end++;
  return Number(frame.toString('latin1', start, end));
}

/** The JSON string (without escapes) right after `key`, which ends with the opening quote, or null. */
export function stringAfter(frame: Buffer, key: Buffer): string | null {
  const at = frame.indexOf(key);
  if (at < 0) return null;
  const start = at + key.length;
  const end = frame.indexOf(34 /* " */, start);
  return end < 0 ? null : frame.toString('utf8', start, end);
}

/** The publish timestamp a bench message carries, or NaN when the frame has none. */
export function sentAtOf(frame: Buffer): number {
  return numberAfter(frame, SENT_AT);
}

/** `sentAt` as a MessagePack map key (fixstr of 6). */
const PACKED_SENT_AT = Buffer.from([0xa6, ...Buffer.from('sentAt')]);

/** The publish timestamp in a MessagePack frame (a float 64 right after its key, as msgpackr packs a fractional ms time), or NaN. */
export function packedSentAtOf(frame: Buffer): number {
  const at = frame.indexOf(PACKED_SENT_AT);
  if (at < 0) return Number.NaN;
  const value = at + PACKED_SENT_AT.length;
  return frame[value] === 0xcb && value + 9 <= frame.length ? frame.readDoubleBE(value + 1) : Number.NaN;
}

/** The tracked event id of a tRPC data frame (`"type":"data","id":"…"`), or null. */
export function trackedIdOf(frame: Buffer): string | null {
  return stringAfter(frame, TRACKED_ID);
}

/**
 * A WebSocket text frame as a server sends it (unmasked, FIN set), header and
 * payload in one buffer, so it can be written to any number of sockets as is.
 */
export function textFrame(payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81;
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  payload.copy(frame, headerLength);
  return frame;
}
