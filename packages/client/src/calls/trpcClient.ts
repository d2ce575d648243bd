import { TRPCClientError, type TRPCClient, type TRPCRequestOptions } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable, observableToAsyncIterable, type Unsubscribable } from '@trpc/server/observable';
import type { ConnectionStateSource } from '../connection/connectionState.js';
import type { CallObserver, CallType } from './requestTracker.js';
import { callRequest, callResults, type StartCall } from './start.js';

/** The handlers a subscription may take (tRPC's `TRPCSubscriptionObserver`). */
interface SubscriptionOptions extends TRPCRequestOptions {
  onStarted?: (opts: { context: Readonly<Record<string, unknown>> | undefined }) => void;
  onData?: (value: unknown) => void;
  onError?: (error: TRPCClientError<AnyRouter>) => void;
  onStopped?: () => void;
  onComplete?: () => void;
  /** The connection going down and back (`SubscriptionConnectionState`, from `followConnection`). */
  onConnectionStateChange?: (state: unknown) => void;
}

const handlerKeys = ['onStarted', 'onData', 'onError', 'onStopped', 'onComplete', 'onConnectionStateChange'] as const;

/** What tRPC's `getUntypedClient` (TanStack Query's integration uses it) finds on a typed client. */
const untypedClientKey = Symbol.for('trpc_untypedClient');

const procedureTypeOf: Readonly<Record<string, CallType | undefined>> = { query: 'query', mutate: 'mutation', subscribe: 'subscription' };

/**
 * `client.trpc`: the typed client of tRPC's `createTRPCClient` (the same
 * property paths, see `pathNode`), but each call goes straight to `start` instead of
 * through tRPC's link chain (an operation object, an observable per link,
 * `share()`, and a promise adapter that makes and aborts an AbortController
 * per call). Calls settle as tRPC's do: a promise of the data or a
 * TRPCClientError (around an AbortError when `signal` aborts); a
 * subscription calls its handlers as tRPC's untyped client does, or, given
 * none, is an async iterator of its data. `client.link` runs the same
 * `start` for other tRPC clients.
 */
export function createTrpcClient<TRouter extends AnyRouter>(start: StartCall, states: ConnectionStateSource): TRPCClient<TRouter> {
  const untyped = new DirectCalls(start, states);
  return pathNode([], untyped) as TRPCClient<TRouter>;
}

/**
 * The proxy of one property path of `client.trpc` (`client.trpc.chat.send`,
 * then `.mutate`): called, the last key of its path names the call and the
 * keys before it the procedure, as in tRPC's recursive proxy; the root also
 * holds the untyped client where tRPC's `getUntypedClient` looks. Each path's
 * proxy is made once and kept by its parent, with its procedure's path and
 * call type worked out then, so a call reads two properties and allocates
 * no path arrays.
 */
function pathNode(path: readonly string[], untyped: DirectCalls): object {
  const children = new Map<string, object>();
  const last = path[path.length - 1];
  const type = last !== undefined && Object.hasOwn(procedureTypeOf, last) ? procedureTypeOf[last] : undefined;
  const procedurePath = path.slice(0, -1).join('.');
  return new Proxy(noop, {
    get(_target, key) {
      if (typeof key !== 'string') return key === untypedClientKey && path.length === 0 ? untyped : undefined;
      if (key === 'then') return undefined;
      let child = children.get(key);
      if (child === undefined) {
        child = pathNode([...path, key], untyped);
        children.set(key, child);
      }
      return child;
    },
    apply(_target, _this, args: unknown[]) {
      if (last === 'valueOf' || last === 'toString' || last === 'toJSON') return `tRPC.proxy(${procedurePath})`;
      if (type === undefined) throw new TypeError(`client.trpc.${path.join('.')}() is not a call: end a procedure's path with .query(), .mutate() or .subscribe()`);
      const [input, options] = args as [unknown, SubscriptionOptions | undefined];
      return type === 'subscription' ? untyped.subscription(procedurePath, input, options) : untyped[type](procedurePath, input, options);
    },
  });
}

const noop = () => undefined;

/** The untyped client behind `client.trpc`, with the methods of tRPC's `TRPCUntypedClient` that typed proxies and TanStack Query call. */
class DirectCalls {
  readonly #start: StartCall;
  readonly #states: ConnectionStateSource;

  constructor(start: StartCall, states: ConnectionStateSource) {
    this.#start = start;
    this.#states = states;
  }

  query(path: string, input?: unknown, options?: TRPCRequestOptions): Promise<unknown> {
    return this.#request('query', path, input, options);
  }

  mutation(path: string, input?: unknown, options?: TRPCRequestOptions): Promise<unknown> {
    return this.#request('mutation', path, input, options);
  }

  subscription(path: string, input: unknown, options: SubscriptionOptions = {}): Unsubscribable | AsyncIterableIterator<unknown> {
    const results = callResults(this.#start, callRequest('subscription', path, input, options.context), options.signal, this.#states);
    if (!handlerKeys.some((key) => typeof options[key] === 'function')) {
      const data = observable<unknown, TRPCClientError<AnyRouter>>((observer) =>
        results.subscribe({
          next: ({ result }) => {
            if (result.type === 'data') observer.next(result.data);
          },
          error: (error) => observer.error(error),
          complete: () => observer.complete(),
        }),
      );
      return onlyOnce(observableToAsyncIterable(data, options.signal ?? new AbortController().signal)[Symbol.asyncIterator]());
    }
    return results.subscribe({
      next: ({ result, context }) => {
        if (result.type === 'started') options.onStarted?.({ context });
        else if (result.type === 'data') options.onData?.(result.data);
        else if (result.type === 'state') options.onConnectionStateChange?.(result);
      },
      error: (error) => options.onError?.(error),
      complete: () => options.onComplete?.(),
    });
  }

  #request(type: 'query' | 'mutation', path: string, input: unknown, options: TRPCRequestOptions | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const signal = options?.signal ?? null;
      const observer = new PromiseObserver(resolve, reject, signal);
      const cancel = this.#start(callRequest(type, path, input, options?.context), observer);
      if (signal && !observer.settled) observer.listen(cancel);
    });
  }
}

/** `iterator`, which a `for await` loop may take once (as tRPC's subscription iterator). */
function onlyOnce(iterator: AsyncIterator<unknown>): AsyncIterableIterator<unknown> {
  let iterated = false;
  const once: AsyncIterableIterator<unknown> = {
    next: (...args) => iterator.next(...args),
    return: (value?: unknown) => iterator.return?.(value) ?? Promise.resolve({ done: true, value }),
    [Symbol.asyncIterator]() {
      if (iterated) throw new Error('A subscription can only be iterated once. Call subscribe() again for another loop.');
      iterated = true;
      return once;
    },
  };
  return once;
}

/** Settles a call's promise from its events; removes its abort listener once settled. */
class PromiseObserver implements CallObserver {
  settled = false;
  #onAbort: (() => void) | null = null;

  constructor(
    private readonly resolve: (data: unknown) => void,
    private readonly reject: (error: unknown) => void,
    private readonly signal: AbortSignal | null,
  ) {}

  /** Cancels the call when the app's signal aborts (as tRPC's link does: not when it was aborted already). */
  listen(cancel: () => void): void {
    this.#onAbort = () => {
      cancel();
      this.#settle();
      this.reject(TRPCClientError.from(new DOMException('This operation was aborted', 'AbortError')));
    };
    this.signal!.addEventListener('abort', this.#onAbort, { once: true });
  }

  next(result: { type: 'started' } | { type: 'data'; data: unknown }): void {
    if (result.type !== 'data' || this.settled) return;
    this.#settle();
    this.resolve(result.data);
  }

  error(error: TRPCClientError<AnyRouter>): void {
    if (this.settled) return;
    this.#settle();
    this.reject(error);
  }

  complete(): void {
    // A query or mutation completes right after its data; there is nothing left to do.
  }

  #settle(): void {
    this.settled = true;
    if (this.#onAbort) this.signal?.removeEventListener('abort', this.#onAbort);
    this.#onAbort = null;
  }
}
