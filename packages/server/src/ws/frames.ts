import { TRPCError } from '@trpc/server';
import { parseConnectionParamsFromUnknown } from '@trpc/server/http';
import type { RawData } from 'ws';
import { stringParams, type ConnectionParams } from '../transport/admission.js';
import { decodeClientFrame, RefusedExtension } from './msgpackInput.js';
import { PreparedFrame } from './preparedFrame.js';

/**
 * Reading incoming WebSocket frames: heartbeats told apart by their bytes,
 * the text of the rest, and the `connectionParams` message (tRPC's first
 * frame with `?connectionParams=1`, and Herald's in-band refresh).
 */

/**
 * The answer to a client's text `PING` (tRPC's heartbeat, which Herald's and
 * tRPC's clients send), framed once for every connection. The server's own
 * pings are WebSocket ping control frames (`HeraldSocket.ping`).
 */
export const PONG_FRAME = new PreparedFrame('PONG');
export const PING = 1;
export const PONG = 2;

/** PING or PONG when `data` is that text frame (read from its bytes, no string made), else 0. */
export function heartbeatOf(data: RawData): number {
  if (!Buffer.isBuffer(data) || data.length !== 4 || data[0] !== 0x50 /* P */ || data[3] !== 0x47 /* G */) return 0;
  if (data[1] === 0x49 /* I */ && data[2] === 0x4e /* N */) return PING;
  if (data[1] === 0x4f /* O */ && data[2] === 0x4e /* N */) return PONG;
  return 0;
}

/** A frame's text (fragments joined). */
export function textOf(data: RawData): string {
  return Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString();
}

/** A binary frame's bytes (fragments joined; an ArrayBuffer viewed, not copied). */
export function bytesOf(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

/** A frame's size in bytes. */
export function byteLengthOf(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, chunk) => sum + chunk.length, 0) : data.byteLength;
}

/**
 * Whether the upgrade URL asks to wait for `connectionParams`
 * (`?connectionParams=1`, as tRPC's client sends it): only the query is
 * parsed, and only when there is one.
 */
export function wantsConnectionParams(url: string | undefined): boolean {
  const query = url?.indexOf('?') ?? -1;
  if (query < 0) return false;
  const hash = url!.indexOf('#', query);
  return new URLSearchParams(url!.slice(query + 1, hash < 0 ? undefined : hash)).get('connectionParams') === '1';
}

export function isConnectionParams(parsed: unknown): parsed is { method: 'connectionParams'; data?: unknown } {
  return typeof parsed === 'object' && parsed !== null && (parsed as { method?: unknown }).method === 'connectionParams';
}

/** The string params of a `connectionParams` message; throws on a malformed one. */
export function paramsOf(message: { data?: unknown }): ConnectionParams | null {
  return stringParams(parseConnectionParamsFromUnknown(message.data));
}

/**
 * What a connection's frames are made of, set once by how it opened and
 * never guessed per frame: the `herald.msgpack` subprotocol makes it
 * MessagePack from the start; otherwise its first frame that is not a
 * heartbeat decides (text: JSON, binary: MessagePack; a stock tRPC client
 * with an `experimental_encoder` offers no subprotocol). Until then the
 * server writes JSON text, which `msgpackEncoder` reads too.
 */
export const Encoding = { UNDECIDED: 0, JSON: 1, MSGPACK: 2 } as const;
export type Encoding = (typeof Encoding)[keyof typeof Encoding];

/**
 * A binary frame's MessagePack message, or the PARSE_ERROR it is answered
 * with: malformed, or carrying an extension (see msgpackInput.ts).
 */
export function unpackFrame(data: RawData): { readonly value: unknown } | { readonly error: TRPCError } {
  try {
    return { value: decodeClientFrame(bytesOf(data)) };
  } catch (cause) {
    const message = cause instanceof RefusedExtension ? cause.message : `The frame is not valid MessagePack (${cause instanceof Error ? cause.message : String(cause)})`;
    return { error: new TRPCError({ code: 'PARSE_ERROR', message, cause }) };
  }
}

/** The refusal of a frame of the other encoding (the connection goes on), saying which one the connection speaks. */
export function wrongEncoding(got: 'a text frame' | 'a binary frame', speaks: Encoding): TRPCError {
  const encoding = speaks === Encoding.MSGPACK ? 'MessagePack in binary frames' : 'JSON in text frames';
  return new TRPCError({ code: 'UNPROCESSABLE_CONTENT', message: `Refused ${got}: this connection speaks ${encoding}` });
}
