import { SuperJSON } from 'superjson';
import { base64ToBytes, bytesToBase64 } from './base64.js';

/**
 * The one data transformer server and client share. superjson already carries
 * Date, Map, Set, BigInt, RegExp, URL and `undefined`; binary payloads are
 * registered here as base64 because superjson's built-in typed-array rule
 * spells every byte as a JSON number (about 4x larger on the wire).
 */
export const transformer = new SuperJSON();

transformer.registerCustom<Uint8Array, string>(
  {
    isApplicable: (value): value is Uint8Array => value instanceof Uint8Array,
    serialize: (value) => bytesToBase64(value),
    deserialize: (value) => base64ToBytes(value),
  },
  'bytes',
);
