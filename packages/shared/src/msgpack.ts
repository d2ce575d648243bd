import { Packr } from 'msgpackr';
import { base64ToBytes } from './base64.js';

/**
 * MessagePack frames for the WebSocket door (msgpackr). A frame carries the
 * same tRPC message a JSON text frame does, with one difference: every value
 * Herald's transformer marks as `bytes` (a `Uint8Array`, base64 in JSON) is
 * MessagePack `bin` instead. The superjson form around it (`json`, `meta`)
 * is unchanged, so the one transformer reads both: its `bytes` rule takes a
 * base64 string or the bytes themselves (transformer.ts).
 *
 * Bytes become `bin` after serialization, led by superjson's own annotations
 * (`meta.values`): only the paths marked `['custom', 'bytes']` are touched,
 * and the containers on those paths are copied, never the caller's objects.
 */

/** The subprotocol a client offers to speak MessagePack; a server that speaks it picks it. */
export const MSGPACK_PROTOCOL = 'herald.msgpack';
/**
 * Offered first beside `MSGPACK_PROTOCOL`: a server that does not know
 * either (`ws` picks the first offered when the server has no
 * `handleProtocols`) answers this one, and the client stays on JSON.
 */
export const JSON_PROTOCOL = 'herald.json';

/** Plain MessagePack (no msgpackr records or structures), maps as objects, the smallest map headers. */
const packr = new Packr({ useRecords: false, variableMapSize: true, mapsAsObjects: true });

/**
 * The encoder interface of tRPC 11's `experimental_encoder` (on
 * `createWSClient` and `applyWSSHandler`): what a frame is made of and read from.
 */
export interface WireEncoder {
  encode(data: unknown): string | Uint8Array<ArrayBuffer>;
  decode(data: string | ArrayBuffer | Uint8Array): unknown;
}

/** One tRPC message (or a batch of them) as a MessagePack frame, bytes as `bin`. */
export function packMessage(message: unknown): Uint8Array<ArrayBuffer> {
  // msgpackr writes into an ArrayBuffer of its own (never a shared one).
  return packr.pack(Array.isArray(message) ? message.map(withBinaryBytes) : withBinaryBytes(message)) as Uint8Array<ArrayBuffer>;
}

/**
 * A message already in its MessagePack form (its serialized values made by
 * `serializeWithBinaryBytes`, bytes as `Uint8Array`) as a frame: packed as
 * it is, without `packMessage`'s search for base64 to decode.
 */
export function packFrame(message: unknown): Uint8Array<ArrayBuffer> {
  return packr.pack(message) as Uint8Array<ArrayBuffer>;
}

/** A MessagePack frame's message; throws on a malformed frame (msgpackr's error). */
export function unpackMessage(frame: Uint8Array): unknown {
  return packr.unpack(frame);
}

/**
 * The encoder a stock tRPC client passes to `createWSClient({ experimental_encoder })`
 * to speak MessagePack with a Herald server. Text frames it receives (the
 * heartbeats, and anything the server sent before the client's first frame
 * told it the encoding) are read as JSON.
 */
export const msgpackEncoder: WireEncoder = {
  encode: packMessage,
  decode: (data) => {
    if (typeof data === 'string') return JSON.parse(data);
    return unpackMessage(data instanceof Uint8Array ? data : new Uint8Array(data));
  },
};

/** A message with the bytes in its serialized values (`params.input`, `result.data`, `error`) as bytes. */
function withBinaryBytes(message: unknown): unknown {
  if (typeof message !== 'object' || message === null) return message;
  const { params, result, error } = message as { params?: { input?: unknown }; result?: { data?: unknown }; error?: unknown };
  let out = message as Record<string, unknown>;
  if (typeof params === 'object' && params !== null && hasValueAnnotations(params.input)) {
    out = { ...out, params: { ...params, input: serializedWithBytes(params.input) } };
  }
  if (typeof result === 'object' && result !== null && hasValueAnnotations(result.data)) {
    out = { ...out, result: { ...result, data: serializedWithBytes(result.data) } };
  }
  if (hasValueAnnotations(error)) out = { ...out, error: serializedWithBytes(error) };
  return out;
}

function hasValueAnnotations(serialized: unknown): serialized is { json: unknown; meta: { values: unknown } } {
  if (typeof serialized !== 'object' || serialized === null) return false;
  const meta = (serialized as { meta?: unknown }).meta;
  return typeof meta === 'object' && meta !== null && (meta as { values?: unknown }).values !== undefined;
}

/** superjson's `{ json, meta }` with every `bytes` value decoded from base64. */
function serializedWithBytes(serialized: { json: unknown; meta: { values: unknown } }): unknown {
  const paths: string[][] = [];
  bytesPaths(serialized.meta.values, [], paths);
  if (paths.length === 0) return serialized;
  let json = serialized.json;
  for (const path of paths) json = replaced(json, path, 0);
  return { ...serialized, json };
}

/** The paths superjson annotated `['custom', 'bytes']` (its `traverse`, on its `meta.values` tree). */
function bytesPaths(tree: unknown, origin: string[], out: string[][]): void {
  if (typeof tree !== 'object' || tree === null) return;
  if (!Array.isArray(tree)) {
    for (const [key, subtree] of Object.entries(tree)) bytesPaths(subtree, [...origin, ...parsePath(key)], out);
    return;
  }
  const [type, children] = tree as [unknown, unknown];
  if (children !== undefined) bytesPaths(children, origin, out);
  if (Array.isArray(type) && type[0] === 'custom' && type[1] === 'bytes') out.push(origin);
}

/** superjson's path syntax: segments joined by `.`, with `\.` and `\\` escaped. */
export function parsePath(path: string): string[] {
  const segments: string[] = [];
  let segment = '';
  for (let index = 0; index < path.length; index++) {
    const char = path[index];
    if (char === '\\' && (path[index + 1] === '.' || path[index + 1] === '\\')) {
      segment += path[++index];
    } else if (char === '.') {
      segments.push(segment);
      segment = '';
    } else {
      segment += char;
    }
  }
  segments.push(segment);
  return segments;
}

/** `value` with the base64 string at `path` (from `depth` on) decoded, the containers on the way copied. */
function replaced(value: unknown, path: readonly string[], depth: number): unknown {
  if (depth === path.length) return typeof value === 'string' ? base64ToBytes(value) : value;
  if (typeof value !== 'object' || value === null) return value;
  const key = path[depth]!;
  if (Array.isArray(value)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= value.length) return value;
    const copy = value.slice();
    copy[index] = replaced(value[index], path, depth + 1);
    return copy;
  }
  if (!Object.prototype.hasOwnProperty.call(value, key)) return value;
  const record = value as Record<string, unknown>;
  return { ...record, [key]: replaced(record[key], path, depth + 1) };
}
