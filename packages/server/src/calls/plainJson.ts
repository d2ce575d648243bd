import type { parseTRPCMessage } from '@trpc/server/rpc';
import { transformer } from '@herald/shared';
import { PLAIN_JSON_MAX_DEPTH as MAX_DEPTH } from '@herald/shared/internal';
import { checkInputLimits } from '../transport/inputLimits.js';

/** What `parseTRPCMessage` needs of a transformer. */
type InputTransformer = Parameters<typeof parseTRPCMessage>[1];

const NOT_PLAIN = Symbol('not plain');

/**
 * The input a serialized input stands for, when superjson would decode it
 * without doing anything: no input at all (`{"meta":{"values":["undefined"],"v":1}}`,
 * what tRPC clients send for a call without input), `{"json":<primitive>}`,
 * or `{"json":<array or object>}` without `meta` (see `parsedContainer`).
 * NOT_PLAIN for anything else (superjson then decodes it).
 */
function plainInputOf(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return NOT_PLAIN;
  let keys = 0;
  for (const key in value) {
    if (key !== 'json' && key !== 'meta') return NOT_PLAIN;
    keys++;
  }
  const { json, meta } = value as { json?: unknown; meta?: unknown };
  if (keys === 1 && meta === undefined) {
    if (json === null || typeof json === 'string' || typeof json === 'boolean' || (typeof json === 'number' && Number.isFinite(json))) return json;
    return typeof json === 'object' && parsedContainer(json, 0) ? json : NOT_PLAIN;
  }
  if (keys !== 1 || typeof meta !== 'object' || meta === null) return NOT_PLAIN;
  let metaKeys = 0;
  for (const key in meta) {
    if (key !== 'values' && key !== 'v') return NOT_PLAIN;
    metaKeys++;
  }
  const { values, v } = meta as { values?: unknown; v?: unknown };
  return metaKeys === 2 && v === 1 && Array.isArray(values) && values.length === 1 && values[0] === 'undefined' ? undefined : NOT_PLAIN;
}

/**
 * Whether superjson's decoding of `{"json":value}` without `meta` (a deep
 * copy of the arrays and objects of the Object prototype in `value`) would
 * give a value equal to `value`: true for what `JSON.parse` makes (arrays,
 * objects, strings, finite numbers, booleans, null) up to `MAX_DEPTH`
 * levels, unless a key is `__proto__` (the copy's assignment would set a
 * prototype). The copy is skipped: the input is the request's own, parsed
 * from its frame, and nothing else holds it.
 */
function parsedContainer(value: object, depth: number): boolean {
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false;
    for (let i = 0; i < value.length; i++) {
      if (!parsedValue(value[i], depth + 1)) return false;
    }
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const record = value as Record<string, unknown>;
  for (const key in record) {
    if (key === '__proto__' || !parsedValue(record[key], depth + 1)) return false;
  }
  // `for…in` skips what JSON.parse never makes (symbols, non-enumerable keys); a hand-made input with them is not plain.
  return Object.getOwnPropertySymbols(record).length === 0;
}

function parsedValue(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      return value === null || parsedContainer(value, depth);
    default:
      return false;
  }
}

let lastTransformer: InputTransformer | null = null;
let lastFast: InputTransformer | null = null;

/**
 * The router's transformer for `parseTRPCMessage`, with an input decoder
 * that skips superjson for the inputs `plainInputOf` recognises (decoded
 * to the same value), when the router uses Herald's transformer; the
 * transformer itself otherwise.
 */
export function inputTransformerOf(routerTransformer: InputTransformer): InputTransformer {
  if (routerTransformer === lastTransformer) return lastFast!;
  let fast = routerTransformer;
  if (routerTransformer.input === transformer) {
    const deserialize = (value: unknown): unknown => {
      const plain = plainInputOf(value);
      if (plain !== NOT_PLAIN) return plain;
      // No input at all (a GET without `input`, a frame without `params.input`): none, as without a transformer.
      if (value === undefined) return undefined;
      // Anything else is checked before superjson walks it (see `checkInputLimits`).
      checkInputLimits(value);
      return transformer.deserialize(value as never);
    };
    fast = { ...routerTransformer, input: { serialize: (value: unknown) => transformer.serialize(value), deserialize } };
  }
  lastTransformer = routerTransformer;
  lastFast = fast;
  return fast;
}
