import { SuperJSON } from 'superjson';
import { base64ToBytes, bytesToBase64, plainBytes } from './base64.js';

/**
 * The one data transformer server and client share. superjson already carries
 * Date, Map, Set, BigInt, RegExp, URL and `undefined`; binary payloads are
 * registered here as base64 because superjson's built-in typed-array rule
 * spells every byte as a JSON number (about 4x larger on the wire). In a
 * MessagePack frame the same value travels as the bytes themselves
 * (`bin`, see msgpack.ts), so the rule reads either form.
 */
export const transformer = new SuperJSON();

/** Set only while `serializeWithBinaryBytes` runs: the `bytes` rule then leaves the bytes as they are. */
let bytesAsBin = false;

transformer.registerCustom<Uint8Array, string>(
  {
    isApplicable: (value): value is Uint8Array => value instanceof Uint8Array,
    // The JSON form is base64; for a MessagePack frame the bytes stay bytes (typed as the JSON form superjson's types allow).
    serialize: (value) => (bytesAsBin ? (value as unknown as string) : bytesToBase64(value)),
    // Typed as the JSON form superjson's types allow; a MessagePack frame hands the bytes themselves.
    deserialize: (value: string | Uint8Array) => (typeof value === 'string' ? base64ToBytes(value) : plainBytes(value)),
  },
  'bytes',
);

/**
 * `transformer.serialize(value)` for a MessagePack frame: the same
 * `{ json, meta }` (the same annotations, so the one `deserialize` reads
 * it), with every `Uint8Array` left in `json` as it is, to be packed as
 * `bin`: no base64 text is made and then decoded again. superjson's
 * `serialize` is synchronous, so the switch it reads is set only for this call.
 */
export function serializeWithBinaryBytes(value: unknown): ReturnType<SuperJSON['serialize']> {
  bytesAsBin = true;
  try {
    return transformer.serialize(value);
  } finally {
    bytesAsBin = false;
  }
}
