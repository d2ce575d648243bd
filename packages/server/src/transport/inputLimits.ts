import { TRPCError } from '@trpc/server';
import { parsePath } from '@herald/shared/internal';

/** Deepest nesting of an input's arrays and objects (and of its superjson annotations). */
export const MAX_INPUT_DEPTH = 128;
/** Most superjson annotations (typed values: Date, BigInt, Map...) one input may carry. */
export const MAX_INPUT_ANNOTATIONS = 10_000;
/** Longest BigInt an input may carry, in digits: decoding one is quadratic in its length. */
export const MAX_BIGINT_DIGITS = 1_000;

/** An input refused before it was decoded: a `BAD_REQUEST` whose message says what to send instead. */
export class InputLimitError extends TRPCError {
  constructor(message: string) {
    super({ code: 'BAD_REQUEST', message });
    this.name = 'InputLimitError';
  }
}

/**
 * Checks a serialized input (`{ json, meta? }`, as superjson writes it)
 * before it is decoded, without recursion (an attacker's nesting cannot
 * overflow the stack here), and throws `InputLimitError` when it is null
 * (superjson would fail with a JavaScript error's text), nests deeper than `MAX_INPUT_DEPTH`, carries more than
 * `MAX_INPUT_ANNOTATIONS` annotations or a BigInt of more than
 * `MAX_BIGINT_DIGITS` digits. What passes decodes in time linear in its size.
 */
export function checkInputLimits(serialized: unknown): void {
  if (serialized === null) throw new InputLimitError('The input is null; send {"json": null} for a null input (Herald\'s transformer does)');
  // Anything but an object decodes to nothing, as superjson has it.
  if (typeof serialized !== 'object') return;
  const { json, meta } = serialized as { json?: unknown; meta?: unknown };
  if (depthOf(json) > MAX_INPUT_DEPTH) throw tooDeep();
  // A `meta` that is not superjson's is ignored by superjson, and so here.
  if (typeof meta !== 'object' || meta === null) return;
  // superjson walks its annotations recursively: their nesting is bounded like the value's.
  if (depthOf(meta) > MAX_INPUT_DEPTH) throw tooDeep();
  const { values, referentialEqualities } = meta as { values?: unknown; referentialEqualities?: unknown };
  let annotations = 0;
  // Each entry: an annotation tree, and the value its paths are relative to.
  const pending: { readonly tree: unknown; readonly base: unknown; readonly depth: number }[] = [];
  if (values !== undefined) pending.push({ tree: values, base: json, depth: 0 });
  while (pending.length > 0) {
    const { tree, base, depth } = pending.pop()!;
    if (depth > MAX_INPUT_DEPTH) throw tooDeep();
    if (Array.isArray(tree)) {
      // An annotation of `base` itself: [type] or [type, nested annotations of its array form].
      if (++annotations > MAX_INPUT_ANNOTATIONS) throw tooManyAnnotations();
      checkAnnotation(tree, base);
      if (tree.length > 1) pending.push({ tree: tree[1], base, depth: depth + 1 });
      continue;
    }
    if (typeof tree !== 'object' || tree === null) continue;
    for (const [path, annotation] of Object.entries(tree)) {
      const segments = parsePath(path);
      if (segments.length > MAX_INPUT_DEPTH) throw tooDeep();
      pending.push({ tree: annotation, base: at(base, segments), depth: depth + 1 });
    }
  }
  if (typeof referentialEqualities === 'object' && referentialEqualities !== null) {
    // Each path is at least a few characters: the text's length bounds how many there are.
    if (JSON.stringify(referentialEqualities).length > MAX_INPUT_ANNOTATIONS * 16) throw tooManyAnnotations();
  }
}

function checkAnnotation(annotation: readonly unknown[], value: unknown): void {
  const type = annotation[0];
  if (type === 'bigint' && typeof value === 'string' && value.length > MAX_BIGINT_DIGITS) {
    throw new InputLimitError(`The input carries a BigInt of more than ${MAX_BIGINT_DIGITS} digits; send a smaller number, or its digits as a string`);
  }
}

/** The deepest nesting of arrays and objects in `value`, counted without recursion; stops once past the limit. */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  const stack: { readonly value: object; readonly depth: number }[] = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const { value: container, depth } = stack.pop()!;
    if (depth > deepest) deepest = depth;
    if (deepest > MAX_INPUT_DEPTH) return deepest;
    for (const child of Object.values(container)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: depth + 1 });
    }
  }
  return deepest;
}

/** The value at `segments` under `base`, or undefined where the path leads nowhere. */
function at(base: unknown, segments: readonly string[]): unknown {
  let value = base;
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

function tooDeep(): InputLimitError {
  return new InputLimitError(`The input nests deeper than ${MAX_INPUT_DEPTH} levels; send a flatter value`);
}

function tooManyAnnotations(): InputLimitError {
  return new InputLimitError(`The input carries more than ${MAX_INPUT_ANNOTATIONS} typed values (Dates, Maps, BigInts...); send fewer per call`);
}
