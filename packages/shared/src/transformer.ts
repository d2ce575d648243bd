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

transformer.registerCustom<Uint8Array, string>(
  {
    isApplicable: (value): value is Uint8Array => value instanceof Uint8Array,
    serialize: (value) => bytesToBase64(value),
    // Typed as the JSON form superjson's types allow; a MessagePack frame hands the bytes themselves.
    deserialize: (value: string | Uint8Array) => (typeof value === 'string' ? base64ToBytes(value) : plainBytes(value)),
  },
  'bytes',
);
