import { transformer } from './transformer.js';

/**
 * Whether superjson would leave `value` alone: `transformer.serialize(value)`
 * is `{ json: value }` with no `meta`, and `JSON.stringify` of either gives
 * the same text. Then an answer is `{"json":` + `JSON.stringify(value)` +
 * `}`, without superjson's walk (which copies the value and builds paths and
 * identity maps on the way). True only for what is certainly plain:
 *
 * - strings, booleans, null and finite numbers but -0;
 * - arrays (of the Array prototype, no holes, no own keys besides the
 *   indexes) and objects (of the Object prototype, or none) whose values are
 *   all plain, up to `PLAIN_JSON_MAX_DEPTH` levels;
 *
 * and false for everything superjson annotates or refuses: `undefined`,
 * NaN, Infinity, -0, BigInt, Date, Map, Set, RegExp, URL, Error, typed arrays
 * (Herald's `bytes`), class instances, symbols, functions, an object met
 * twice (superjson records referential equalities), and the keys
 * `__proto__`, `constructor` and `prototype` (superjson throws on them).
 * While the app has registered classes or custom rules of its own on the
 * transformer, nothing is plain: those rules may apply to anything.
 */
export function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return onlyHeraldRules();
    case 'number':
      return plainNumber(value) && onlyHeraldRules();
    case 'object':
      if (value === null) return onlyHeraldRules();
      return onlyHeraldRules() && plainContainer(value, 0, new Set());
    default:
      return false;
  }
}

/** Deeper values go through superjson (which recurses as deep as they are). */
export const PLAIN_JSON_MAX_DEPTH = 64;

function plainValue(value: unknown, depth: number, seen: Set<object>): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return plainNumber(value);
    case 'object':
      return value === null || plainContainer(value, depth, seen);
    default:
      return false;
  }
}

/** superjson annotates NaN, the infinities and -0. */
function plainNumber(value: number): boolean {
  return Number.isFinite(value) && !Object.is(value, -0);
}

function plainContainer(value: object, depth: number, seen: Set<object>): boolean {
  if (depth >= PLAIN_JSON_MAX_DEPTH || seen.has(value)) return false;
  seen.add(value);
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype === Array.prototype) {
    const array = value as unknown[];
    if (Object.keys(array).length !== array.length) return false;
    for (let i = 0; i < array.length; i++) {
      if (!plainValue(array[i], depth + 1, seen)) return false;
    }
    return true;
  }
  if (prototype !== Object.prototype && prototype !== null) return false;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return false;
    if (!plainValue(record[key], depth + 1, seen)) return false;
  }
  return true;
}

interface SuperJsonRegistries {
  readonly classRegistry?: { readonly kv?: { readonly keyToValue?: unknown } };
  readonly customTransformerRegistry?: { readonly transfomers?: Record<string, unknown> };
}

const registries = transformer as unknown as SuperJsonRegistries;
/** Herald's own custom rule (`bytes`, for Uint8Array), as registered by @herald/shared. */
const heraldBytes = registries.customTransformerRegistry?.transfomers?.['bytes'];

/**
 * Whether the transformer holds only Herald's rules (no class registered,
 * no custom rule but `bytes`): read from superjson 2's registries, and
 * false when their shape is not the one expected.
 */
function onlyHeraldRules(): boolean {
  const classes = registries.classRegistry?.kv?.keyToValue;
  if (!(classes instanceof Map) || classes.size !== 0) return false;
  const customs = registries.customTransformerRegistry?.transfomers;
  if (typeof customs !== 'object' || customs === null || heraldBytes === undefined) return false;
  for (const name in customs) {
    if (name !== 'bytes' || customs[name] !== heraldBytes) return false;
  }
  return true;
}

