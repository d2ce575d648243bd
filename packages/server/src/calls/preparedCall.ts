import { getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { getParseFn, middlewareMarker, type ParseFn, type Parser } from '@trpc/server/unstable-core-do-not-import';
import { isThenable } from '../thenable.js';

/**
 * Procedures prepared once each: what tRPC's
 * `callTRPCProcedure` works out on every call (the procedure at the path,
 * its chain of middlewares, a fresh options object per middleware) is read
 * from the procedure's `_def` the first time its path is called, and each
 * call then runs only what that procedure has:
 *
 * ```
 * only a resolver             resolver(opts)                      (no chain at all)
 * inputs / output validators  parse each input, resolver, parse the output, inline
 * any other middleware        the chain as tRPC runs it (callRecursive), without
 *                             its per-level spreads of the call's options
 * anything else               null: the caller uses callTRPCProcedure
 * ```
 *
 * The semantics are tRPC's, option for option: middlewares see the same
 * options (`ctx`, `input`, `getRawInput`, `path`, `type`, `signal`,
 * `batchIndex`, `meta`, `router`, `next`), `next({ ctx, input, getRawInput })`
 * merges as tRPC merges, a throw at any stage becomes the same TRPCError,
 * and validators fail with the same codes and messages
 * (test/preparedCall.test.ts compares both paths on generated procedures).
 * The one difference is when `signal` is made: it is a getter that makes
 * the call's AbortController on first read (see `RunningCall`).
 */

/** What a prepared call needs of the call it runs: its signal, made on first read. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

type GetRawInput = () => Promise<unknown>;

type MiddlewareResult =
  | { readonly ok: true; readonly data: unknown; readonly marker: typeof middlewareMarker }
  | { readonly ok: false; readonly error: TRPCError; readonly marker: typeof middlewareMarker };

/** A middleware function as tRPC stores it (`_def.middlewares`); `_type` tags the ones its builder made. */
type MiddlewareFunction = ((opts: CallOptions) => Promise<MiddlewareResult | undefined>) & { _type?: string };

interface ProcedureDef {
  readonly procedure?: unknown;
  readonly type?: unknown;
  readonly inputs?: unknown;
  readonly output?: unknown;
  readonly middlewares?: unknown;
  readonly resolver?: unknown;
  readonly meta?: unknown;
  readonly caller?: unknown;
  readonly experimental_caller?: unknown;
}

type Resolver = (opts: CallOptions) => unknown;

/** The procedure types this module runs. */
type ProcedureType = 'query' | 'mutation' | 'subscription';

const SIGNAL_SOURCE = Symbol('signalSource');

/** `signal` of a call's options: an own, enumerable getter (a spread copies the signal), one function for every call. */
const SIGNAL_PROPERTY: PropertyDescriptor = {
  get(this: { [SIGNAL_SOURCE]: SignalSource }): AbortSignal {
    return this[SIGNAL_SOURCE].signal;
  },
  enumerable: true,
  configurable: true,
};

/**
 * What a middleware or resolver is called with: tRPC's options, key for
 * key, with `signal` an own getter. (An object literal with a getter takes
 * V8's slow path, several times the cost of this; a getter on the
 * prototype would be lost by `{ ...opts }`.)
 */
class CallOptions {
  declare readonly router: AnyRouter;
  declare readonly path: string;
  declare readonly getRawInput: GetRawInput;
  declare readonly ctx: unknown;
  declare readonly type: ProcedureType;
  declare readonly signal: AbortSignal;
  declare readonly batchIndex: number;
  declare readonly input: unknown;
  declare readonly meta: unknown;
  declare readonly next: (nextOpts?: NextOptions) => Promise<MiddlewareResult | undefined>;
  declare readonly [SIGNAL_SOURCE]: SignalSource;

  constructor(
    router: AnyRouter,
    path: string,
    getRawInput: GetRawInput,
    ctx: unknown,
    type: ProcedureType,
    source: SignalSource,
    batchIndex: number,
    input: unknown,
    meta: unknown,
    next: (nextOpts?: NextOptions) => Promise<MiddlewareResult | undefined>,
  ) {
    const self = this as Writable<CallOptions>;
    self.router = router;
    self.path = path;
    self.getRawInput = getRawInput;
    self.ctx = ctx;
    self.type = type;
    Object.defineProperty(this, 'signal', SIGNAL_PROPERTY);
    self.batchIndex = batchIndex;
    self.input = input;
    self.meta = meta;
    self.next = next;
    (this as { [SIGNAL_SOURCE]: SignalSource })[SIGNAL_SOURCE] = source;
  }
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/** What `next(...)` may replace. */
interface NextOptions {
  ctx?: Record<string, unknown>;
  input?: unknown;
  getRawInput?: GetRawInput;
}

/** A procedure whose calls skip `callTRPCProcedure`. */
export abstract class PreparedProcedure {
  constructor(
    readonly type: ProcedureType,
    protected readonly meta: unknown,
  ) {}

  /** Runs the procedure; resolves with its output, rejects with a TRPCError as `callTRPCProcedure` would. */
  abstract call(router: AnyRouter, path: string, input: unknown, ctx: unknown, source: SignalSource, batchIndex: number): Promise<unknown>;
}

/** `next` of the resolver's options: there is nothing after the resolver, as in tRPC, where calling it fails the same way. */
function nextPastTheEnd(): Promise<MiddlewareResult> {
  try {
    const middleware = undefined as unknown as () => void;
    middleware();
  } catch (cause) {
    return Promise.resolve({ ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker });
  }
  return Promise.resolve({ ok: false, error: new TRPCError({ code: 'INTERNAL_SERVER_ERROR' }), marker: middlewareMarker });
}

/** A procedure with no middleware but its resolver: the resolver is called with tRPC's options, once. */
class ResolverOnly extends PreparedProcedure {
  constructor(
    type: ProcedureType,
    meta: unknown,
    private readonly resolver: Resolver,
  ) {
    super(type, meta);
  }

  async call(router: AnyRouter, path: string, input: unknown, ctx: unknown, source: SignalSource, batchIndex: number): Promise<unknown> {
    try {
      return await this.resolver(
        new CallOptions(router, path, async () => input, ctx, this.type, source, batchIndex, undefined, this.meta, nextPastTheEnd),
      );
    } catch (cause) {
      throw getTRPCErrorFromUnknown(cause);
    }
  }
}

/**
 * Input validators (merged as tRPC merges them), the resolver, then the
 * output validator: what tRPC's input and output middlewares do, without
 * the chain between them. The context is the connection's: no middleware
 * can change it.
 */
class Validated extends PreparedProcedure {
  constructor(
    type: ProcedureType,
    meta: unknown,
    private readonly inputs: readonly ParseFn<unknown>[],
    private readonly output: ParseFn<unknown> | null,
    private readonly resolver: Resolver,
  ) {
    super(type, meta);
  }

  async call(router: AnyRouter, path: string, rawInput: unknown, ctx: unknown, source: SignalSource, batchIndex: number): Promise<unknown> {
    const getRawInput: GetRawInput = async () => rawInput;
    let input: unknown = undefined;
    for (const parse of this.inputs) {
      let parsed: unknown;
      try {
        // `getRawInput()` is `rawInput`; a synchronous parser's result (zod's, usually) is taken without an await.
        parsed = parse(rawInput);
        if (isThenable(parsed)) parsed = await parsed;
      } catch (cause) {
        throw new TRPCError({ code: 'BAD_REQUEST', cause });
      }
      input = isObject(input) && isObject(parsed) ? { ...input, ...parsed } : parsed;
    }
    let data: unknown;
    try {
      data = this.resolver(new CallOptions(router, path, getRawInput, ctx, this.type, source, batchIndex, input, this.meta, nextPastTheEnd));
      if (isThenable(data)) data = await data;
    } catch (cause) {
      throw getTRPCErrorFromUnknown(cause);
    }
    if (!this.output) return data;
    try {
      return await this.output(data);
    } catch (cause) {
      throw new TRPCError({ message: 'Output validation failed', code: 'INTERNAL_SERVER_ERROR', cause });
    }
  }
}

/** The options that change along a chain (what `next(...)` may replace). */
interface ChainCall {
  readonly router: AnyRouter;
  readonly path: string;
  readonly source: SignalSource;
  readonly batchIndex: number;
}

/**
 * Any other chain, run as tRPC's `callRecursive` runs it: each middleware
 * gets the call's options and a `next` that runs the rest; a throw anywhere
 * becomes a failed result for the middleware before it.
 */
class Chain extends PreparedProcedure {
  constructor(
    type: ProcedureType,
    meta: unknown,
    private readonly middlewares: readonly MiddlewareFunction[],
  ) {
    super(type, meta);
  }

  async call(router: AnyRouter, path: string, input: unknown, ctx: unknown, source: SignalSource, batchIndex: number): Promise<unknown> {
    const result = await this.step(0, { router, path, source, batchIndex }, ctx, undefined, async () => input);
    if (!result) {
      throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'No result from middlewares - did you forget to `return next()`?' });
    }
    if (!result.ok) throw result.error;
    return result.data;
  }

  private async step(index: number, call: ChainCall, ctx: unknown, input: unknown, getRawInput: GetRawInput): Promise<MiddlewareResult | undefined> {
    try {
      const middleware = this.middlewares[index] as MiddlewareFunction;
      const next = (nextOpts?: NextOptions) =>
        this.step(
          index + 1,
          call,
          nextOpts?.ctx ? { ...(ctx as Record<string, unknown>), ...nextOpts.ctx } : ctx,
          nextOpts && 'input' in nextOpts ? nextOpts.input : input,
          nextOpts?.getRawInput ?? getRawInput,
        );
      return await middleware(
        new CallOptions(call.router, call.path, getRawInput, ctx, this.type, call.source, call.batchIndex, input, this.meta, next),
      );
    } catch (cause) {
      return { ok: false, error: getTRPCErrorFromUnknown(cause), marker: middlewareMarker };
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && !Array.isArray(value) && typeof value === 'object';
}

/**
 * What `_def` says about a procedure, read once: a `PreparedProcedure`, or
 * null when its shape is not one this module knows (a custom caller, a
 * `_def` from a tRPC whose internals differ), so that
 * `callTRPCProcedure` runs it.
 */
export function prepareProcedure(procedure: unknown): PreparedProcedure | null {
  if (typeof procedure !== 'function') return null;
  const def = (procedure as { _def?: ProcedureDef })._def;
  if (!def || def.procedure !== true || def.caller || def.experimental_caller) return null;
  const { type, meta, resolver, inputs, output } = def;
  if (type !== 'query' && type !== 'mutation' && type !== 'subscription') return null;
  if (!Array.isArray(def.middlewares) || !Array.isArray(inputs) || typeof resolver !== 'function') return null;
  const middlewares = def.middlewares as unknown[];
  if (middlewares.length === 0 || !middlewares.every((middleware) => typeof middleware === 'function')) return null;
  const chain = middlewares as MiddlewareFunction[];
  // tRPC wraps the resolver in a last middleware of its own; the chain is what comes before it.
  const last = chain[chain.length - 1]!;
  if (last.name !== 'resolveMiddleware') return null;
  const before = chain.slice(0, -1);
  if (before.length === 0) return new ResolverOnly(type, meta, resolver as Resolver);
  const validatorsOnly = before.every((middleware) => middleware._type === 'input' || middleware._type === 'output');
  const inputCount = before.filter((middleware) => middleware._type === 'input').length;
  const outputCount = before.filter((middleware) => middleware._type === 'output').length;
  // A subscription's output validator wraps its stream (tRPC's output middleware): the chain runs it as tRPC does.
  const inlineOutput = output === undefined || type !== 'subscription';
  if (validatorsOnly && inlineOutput && inputCount === inputs.length && outputCount === (output === undefined ? 0 : 1)) {
    try {
      return new Validated(
        type,
        meta,
        (inputs as Parser[]).map((parser) => getParseFn(parser)),
        output === undefined ? null : getParseFn(output as Parser),
        resolver as Resolver,
      );
    } catch {
      return new Chain(type, meta, chain);
    }
  }
  return new Chain(type, meta, chain);
}

/**
 * A router's prepared procedures, by path: filled on each path's first call
 * (only paths that name a procedure are kept, so clients cannot grow it).
 */
export class PreparedProcedures {
  private readonly byPath = new Map<string, PreparedProcedure | null>();

  constructor(private readonly router: AnyRouter) {}

  /** The prepared procedure at `path` when it is a `type` this module covers; null means: use callTRPCProcedure. */
  get(path: string, type: ProcedureType): PreparedProcedure | null {
    let prepared = this.byPath.get(path);
    if (prepared === undefined) {
      const procedures = this.router._def.procedures as Record<string, unknown>;
      // A path not (yet) in the record, a lazy router's included, is left to tRPC.
      if (!Object.hasOwn(procedures, path)) return null;
      prepared = prepareProcedure(procedures[path]);
      this.byPath.set(path, prepared);
    }
    return prepared !== null && prepared.type === type ? prepared : null;
  }
}

let lastRouter: AnyRouter | null = null;
let lastPrepared: PreparedProcedures | null = null;
const preparedByRouter = new WeakMap<AnyRouter, PreparedProcedures>();

/** The prepared procedures of `router` (one set per router; a server has one router, kept at hand). */
export function preparedProceduresOf(router: AnyRouter): PreparedProcedures {
  if (router === lastRouter) return lastPrepared!;
  let prepared = preparedByRouter.get(router);
  if (!prepared) {
    prepared = new PreparedProcedures(router);
    preparedByRouter.set(router, prepared);
  }
  lastRouter = router;
  lastPrepared = prepared;
  return prepared;
}
