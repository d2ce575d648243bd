import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { callTRPCProcedure, getTRPCErrorFromUnknown, initTRPC, TRPCError, type AnyRouter } from '@trpc/server';
import { z } from 'zod';
import { heraldErrorFormatter, transformer } from '@herald/server';
import { RunningCall } from '../src/calls/runningCall.js';
import { prepareProcedure, PreparedProcedures } from '../src/calls/preparedCall.js';
import { inputTransformerOf } from '../src/calls/plainJson.js';
import type { ErrorContext } from '../src/calls/outcome.js';
import { Wire } from '../src/ws/wire.js';

/**
 * The prepared call path against tRPC's own `callTRPCProcedure`, on
 * generated procedures: every combination of input validators, an output
 * validator, middlewares (that log, change ctx or input, read the signal,
 * throw before or after `next`, skip `next`), resolvers that return
 * transformer-relevant values or throw, and both error formatters. Each
 * procedure runs through both paths; the wire frames (answer or error, after
 * the error formatter and the transformer) and the logs of side effects
 * (every middleware, validator and resolver call, in order, with what it
 * saw) must be identical.
 */

type Value = unknown;

interface InputStep {
  readonly kind: 'input';
  readonly schema: 'zod' | 'function';
  readonly fail: boolean;
  readonly field: string;
}
interface OutputStep {
  readonly kind: 'output';
  readonly fail: boolean;
  readonly wrap: boolean;
}
interface UseStep {
  readonly kind: 'use';
  readonly throwBefore: boolean;
  readonly throwAfter: boolean;
  readonly skipNext: 'no' | 'undefined' | 'own-result';
  readonly ctx: { readonly key: string; readonly value: Value } | null;
  readonly input: { readonly value: Value } | null;
  readonly readSignal: boolean;
}
type Step = InputStep | OutputStep | UseStep;

interface ResolverSpec {
  readonly outcome: 'value' | 'trpc-error' | 'error' | 'string';
  readonly value: Value;
  readonly echo: boolean;
  readonly readSignal: boolean;
  readonly callNext: boolean;
}

interface Spec {
  readonly type: 'query' | 'mutation' | 'subscription';
  readonly steps: readonly Step[];
  readonly resolver: ResolverSpec;
  readonly formatter: 'herald' | 'custom';
  readonly input: Value;
  readonly meta: { readonly tag: string } | undefined;
}

class Thing {
  constructor(readonly n: number) {}
}

/** Values that make superjson do something, and plain JSON that it leaves alone. */
const transformerValue: fc.Arbitrary<Value> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 2 }),
    fc.constant(undefined),
    fc.date(),
    fc.bigInt(),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0, 1.5),
    fc.uniqueArray(fc.string({ maxLength: 3 }), { maxLength: 3 }).map((keys) => new Map(keys.map((key, index) => [key, index]))),
    fc.array(fc.integer(), { maxLength: 3 }).map((items) => new Set(items)),
    fc.uint8Array({ maxLength: 4 }),
    fc.constant(new Thing(1)),
    fc.constant(/ab+c/gi),
    fc.constantFrom(JSON.parse('{"__proto__":1}') as unknown, { constructor: 1 }, { prototype: 'x' }),
    fc.constant(Object.assign(Object.create(null) as object, { a: 1 })),
    // A sparse array (a hole at index 1).
    fc.constant(Object.assign(new Array<number>(3), { 0: 1, 2: 3 })),
    tie('value').map((shared) => ({ a: shared, b: shared })),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('input' as const),
    schema: fc.constantFrom('zod' as const, 'function' as const),
    fail: fc.boolean(),
    field: fc.constantFrom('a', 'b', 'lastEventId'),
  }),
  fc.record({ kind: fc.constant('output' as const), fail: fc.boolean(), wrap: fc.boolean() }),
  fc.record({
    kind: fc.constant('use' as const),
    throwBefore: fc.boolean(),
    throwAfter: fc.boolean(),
    skipNext: fc.constantFrom('no' as const, 'no' as const, 'undefined' as const, 'own-result' as const),
    ctx: fc.option(fc.record({ key: fc.constantFrom('user', 'role', 'n'), value: transformerValue }), { nil: null }),
    input: fc.option(fc.record({ value: transformerValue }), { nil: null }),
    readSignal: fc.boolean(),
  }),
);

const spec: fc.Arbitrary<Spec> = fc.record({
  type: fc.constantFrom('query' as const, 'mutation' as const, 'subscription' as const),
  // At most one output validator: tRPC refuses a second.
  steps: fc
    .array(step, { maxLength: 5 })
    .map((steps) => steps.filter((s, index) => s.kind !== 'output' || steps.findIndex((other) => other.kind === 'output') === index)),
  resolver: fc.record({
    outcome: fc.constantFrom('value' as const, 'value' as const, 'trpc-error' as const, 'error' as const, 'string' as const),
    value: transformerValue,
    echo: fc.boolean(),
    readSignal: fc.boolean(),
    callNext: fc.boolean(),
  }),
  formatter: fc.constantFrom('herald' as const, 'custom' as const),
  input: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ a: fc.integer(), b: fc.string() }), fc.constant(undefined), fc.date()),
  meta: fc.option(fc.record({ tag: fc.string({ maxLength: 3 }) }), { nil: undefined }),
});

/** What a run did, in order, with what each part saw (JSON of transformer output, so Dates and Maps are compared too). */
type Log = string[];
const seen = (value: unknown) => {
  try {
    return JSON.stringify(transformer.serialize(value));
  } catch (error) {
    return `unserializable: ${(error as Error).message}`;
  }
};

function build(spec: Spec, log: Log): AnyRouter {
  const t = initTRPC.meta<{ tag: string }>().create({
    transformer,
    isDev: false,
    errorFormatter:
      spec.formatter === 'herald'
        ? heraldErrorFormatter
        : ({ shape, ctx, input, path, type }) => ({ ...shape, data: { ...shape.data, seen: seen({ ctx, input, path, type }) } }),
  });
  let builder = t.procedure;
  if (spec.meta) builder = builder.meta(spec.meta);
  spec.steps.forEach((s, index) => {
    if (s.kind === 'input') {
      if (s.schema === 'zod') {
        builder = builder.input(
          z.object({ [s.field]: z.unknown() }).transform((value) => {
            log.push(`input ${index} zod ${seen(value)}`);
            if (s.fail) throw new Error(`input ${index} refused`);
            return value;
          }),
        ) as unknown as typeof builder;
      } else {
        builder = builder.input((value: unknown) => {
          log.push(`input ${index} fn ${seen(value)}`);
          if (s.fail) throw new TRPCError({ code: 'PARSE_ERROR', message: `input ${index} refused` });
          return { [s.field]: value };
        }) as unknown as typeof builder;
      }
    } else if (s.kind === 'output') {
      builder = builder.output((value: unknown) => {
        log.push(`output ${index} ${seen(value)}`);
        if (s.fail) throw new Error(`output ${index} refused`);
        return s.wrap ? { wrapped: value } : value;
      }) as unknown as typeof builder;
    } else {
      builder = builder.use(async (opts) => {
        log.push(`use ${index} before: ctx ${seen(opts.ctx)} input ${seen(opts.input)} path ${opts.path} type ${opts.type} meta ${seen(opts.meta)}`);
        log.push(`use ${index} raw ${seen(await opts.getRawInput())} keys ${Object.keys(opts).sort().join()}`);
        if (s.readSignal) log.push(`use ${index} signal ${opts.signal instanceof AbortSignal} ${String(opts.signal?.aborted)}`);
        if (s.throwBefore) throw new Error(`use ${index} threw before`);
        if (s.skipNext === 'undefined') return undefined as never;
        if (s.skipNext === 'own-result') return { ok: true, data: `use ${index} answered`, marker: 'middlewareMarker' } as never;
        const nextOpts: { ctx?: Record<string, unknown>; input?: unknown } = {};
        if (s.ctx) nextOpts.ctx = { [s.ctx.key]: s.ctx.value };
        if (s.input) nextOpts.input = s.input.value;
        const result = await opts.next(nextOpts);
        log.push(`use ${index} after: ok ${result.ok} ${result.ok ? seen(result.data) : `${result.error.code} ${result.error.message}`}`);
        if (s.throwAfter) throw new TRPCError({ code: 'CONFLICT', message: `use ${index} threw after` });
        return result;
      }) as unknown as typeof builder;
    }
  });
  const resolver = async (opts: { ctx: unknown; input: unknown; signal: AbortSignal | undefined; path: string; next?: unknown }) => {
    log.push(`resolver ctx ${seen(opts.ctx)} input ${seen(opts.input)} path ${opts.path}`);
    log.push(`resolver keys ${Object.keys(opts).sort().join()}`);
    if (spec.resolver.readSignal) {
      const copy = { ...opts };
      log.push(`resolver signal ${opts.signal instanceof AbortSignal} ${String(opts.signal?.aborted)} copied ${copy.signal instanceof AbortSignal}`);
    }
    if (spec.resolver.callNext && typeof opts.next === 'function') {
      const result = (await (opts.next as () => Promise<{ ok: boolean; error?: TRPCError }>)()) ?? { ok: 'none' };
      log.push(`resolver next: ok ${String(result.ok)} ${result.error?.code} ${result.error?.message}`);
    }
    switch (spec.resolver.outcome) {
      case 'trpc-error':
        throw new TRPCError({ code: 'FORBIDDEN', message: 'resolver refused' });
      case 'error':
        throw new Error('resolver failed');
      case 'string':
        throw 'a string';
      default:
        return spec.resolver.echo ? { value: spec.resolver.value, ctx: opts.ctx, input: opts.input } : spec.resolver.value;
    }
  };
  // A subscription's resolver returns a stream in its types; the call path passes on whatever it returns, compared here the same way.
  const procedure =
    spec.type === 'query'
      ? builder.query(resolver)
      : spec.type === 'mutation'
        ? builder.mutation(resolver)
        : builder.subscription(resolver as never);
  return t.router({ thing: procedure });
}

const ENVELOPE = '"id":1';
const CTX = { user: 'ann', n: 1 };

/** The frame a call's outcome becomes: an answer (through the transformer) or an error (through the formatter). */
function frameOf(wire: Wire, outcome: { ok: true; value: unknown } | { ok: false; cause: unknown }, context: ErrorContext, stock: boolean): string {
  if (outcome.ok) {
    try {
      return stock
        ? `{${ENVELOPE},"result":{"type":"data","data":${JSON.stringify(transformer.serialize(outcome.value))}}}`
        : wire.data(ENVELOPE, outcome.value);
    } catch (cause) {
      return wire.error(ENVELOPE, getTRPCErrorFromUnknown(cause), context, () => undefined);
    }
  }
  return wire.error(ENVELOPE, getTRPCErrorFromUnknown(outcome.cause), context, () => undefined);
}

async function settle(run: () => Promise<unknown>): Promise<{ ok: true; value: unknown } | { ok: false; cause: unknown }> {
  try {
    return { ok: true, value: await run() };
  } catch (cause) {
    return { ok: false, cause };
  }
}

async function runBoth(spec: Spec) {
  const stockLog: Log = [];
  const stockRouter = build(spec, stockLog);
  const context: ErrorContext = { type: spec.type, path: 'thing', input: spec.input, ctx: CTX };
  const stockOutcome = await settle(() =>
    callTRPCProcedure({
      router: stockRouter,
      path: 'thing',
      getRawInput: async () => spec.input,
      ctx: CTX,
      type: spec.type,
      signal: new AbortController().signal,
      batchIndex: 0,
    }),
  );
  const stock = frameOf(new Wire(stockRouter), stockOutcome, context, true);

  const preparedLog: Log = [];
  const preparedRouter = build(spec, preparedLog);
  const prepared = new PreparedProcedures(preparedRouter).get('thing', spec.type);
  expect(prepared, 'every generated shape has a prepared path').not.toBeNull();
  const preparedOutcome = await settle(() => prepared!.call(preparedRouter, 'thing', spec.input, CTX, new RunningCall(spec.type), 0));
  const fast = frameOf(new Wire(preparedRouter), preparedOutcome, context, false);
  return { stock, fast, stockLog, preparedLog };
}

describe('the prepared call path', () => {
  it('answers, fails and logs exactly as callTRPCProcedure on generated procedures', async () => {
    await fc.assert(
      fc.asyncProperty(spec, async (s) => {
        const { stock, fast, stockLog, preparedLog } = await runBoth(s);
        expect(preparedLog).toEqual(stockLog);
        expect(fast).toBe(stock);
      }),
      { numRuns: 600 },
    );
  });

  it('prepares a procedure without middleware, with validators only, and with middlewares, and leaves other shapes to tRPC', () => {
    const t = initTRPC.create({ transformer });
    const router = t.router({
      bare: t.procedure.query(() => 1),
      validated: t.procedure.input(z.string()).output(z.string()).mutation(({ input }) => input),
      chained: t.procedure.use(({ next }) => next()).query(() => 1),
      stream: t.procedure.input(z.string()).subscription(async function* () {
        yield 1;
      }),
      checkedStream: t.procedure.output(z.unknown()).subscription(async function* () {
        yield 1;
      }),
    });
    const procedures = new PreparedProcedures(router);
    expect(procedures.get('bare', 'query')?.constructor.name).toBe('ResolverOnly');
    expect(procedures.get('validated', 'mutation')?.constructor.name).toBe('Validated');
    expect(procedures.get('chained', 'query')?.constructor.name).toBe('Chain');
    expect(procedures.get('stream', 'subscription')?.constructor.name).toBe('Validated');
    // A subscription's output validator wraps its stream: tRPC's own middleware runs it.
    expect(procedures.get('checkedStream', 'subscription')?.constructor.name).toBe('Chain');
    // Wrong type, unknown path, a prototype key, something not a procedure: tRPC answers these (NOT_FOUND, or runs them).
    expect(procedures.get('bare', 'mutation')).toBeNull();
    expect(procedures.get('missing', 'query')).toBeNull();
    expect(procedures.get('constructor', 'query')).toBeNull();
    expect(procedures.get('stream', 'query')).toBeNull();
    expect(prepareProcedure({})).toBeNull();
  });

  it('serializes any value as superjson does, or fails as it does', () => {
    const wire = new Wire(initTRPC.create({ transformer }).router({}));
    fc.assert(
      fc.property(transformerValue, (value) => {
        let stock: string;
        try {
          stock = `{${ENVELOPE},"result":{"type":"data","data":${JSON.stringify(transformer.serialize(value))}}}`;
        } catch (error) {
          expect(() => wire.data(ENVELOPE, value)).toThrow((error as Error).message);
          return;
        }
        expect(wire.data(ENVELOPE, value)).toBe(stock);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('decoding inputs', () => {
  it('decodes every serialized input as superjson does', () => {
    const routerTransformer = initTRPC.create({ transformer }).router({})._def._config.transformer;
    const fast = inputTransformerOf(routerTransformer);
    expect(fast).not.toBe(routerTransformer);
    const wireInput = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      transformerValue.map((value) => {
        try {
          return JSON.parse(JSON.stringify(transformer.serialize(value))) as unknown;
        } catch {
          return null;
        }
      }),
      fc.constant({ meta: { values: ['undefined'], v: 1 } }),
      fc.constant({ json: -0 }),
      // Arrays and objects without meta, as a frame's JSON.parse makes them, `__proto__` keys included.
      fc.jsonValue({ maxDepth: 4 }).map((json) => ({ json })),
      fc.constant(JSON.parse('{"json":{"room":"a","nested":{"__proto__":{"x":1}}}}') as unknown),
      fc.constant(JSON.parse('{"json":[{"__proto__":[]},-0]}') as unknown),
    );
    fc.assert(
      fc.property(wireInput, (input) => {
        let expected: unknown;
        try {
          expected = transformer.deserialize(structuredClone(input) as never);
        } catch (error) {
          // What superjson fails on fails here too: with its message, or (a null input) with a plain one of Herald's.
          expect(() => fast.input.deserialize(input)).toThrow(input === null ? /send \{"json": null\}/ : (error as Error).message);
          return;
        }
        const decoded: unknown = fast.input.deserialize(input);
        expect(decoded).toStrictEqual(expected);
        if (typeof expected === 'number') expect(Object.is(decoded, expected)).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('RunningCall', () => {
  it('makes a real AbortSignal on first read, aborted when the call was stopped before or after', () => {
    const before = new RunningCall('query');
    before.abort();
    expect(before.aborted).toBe(true);
    expect(before.signal).toBeInstanceOf(AbortSignal);
    expect(before.signal.aborted).toBe(true);

    const after = new RunningCall('mutation');
    const signal = after.signal;
    expect(signal.aborted).toBe(false);
    let heard = 0;
    signal.addEventListener('abort', () => heard++);
    after.abort();
    after.abort();
    expect(signal.aborted).toBe(true);
    expect(heard).toBe(1);
    expect(after.signal).toBe(signal);
  });
});
