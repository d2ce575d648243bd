import { TRPCClientError, TRPCUntypedClient, type CreateTRPCClientOptions, type TRPCRequestOptions } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import type { CallObserver, RequestTracker } from './requestTracker.js';

/**
 * The untyped client under `client.trpc`: tRPC's own, except that a query or
 * mutation goes straight to the request tracker and settles its promise
 * there. tRPC runs each call through its link chain first: an operation
 * object, an observable per link, `share()`, and `observableToPromise`,
 * which makes an AbortController per call and aborts it when the call
 * completes (building a DOMException each time); together they cost more
 * client CPU than the rest of the call. The promise resolves and rejects as
 * tRPC's would: with the data, with the call's TRPCClientError, or, when
 * `signal` aborts, with a TRPCClientError around an AbortError. Subscriptions,
 * and calls made through `client.link` in another tRPC client, take the link
 * (link.ts) as before, and so do mutations when the client has persistence:
 * the outbox records them in its link (persistence/persistenceLink.ts).
 */
export class HeraldUntypedClient<TRouter extends AnyRouter> extends TRPCUntypedClient<TRouter> {
  readonly #tracker: RequestTracker;
  readonly #mutationsThroughLink: boolean;

  constructor(opts: CreateTRPCClientOptions<TRouter>, tracker: RequestTracker, mutationsThroughLink: boolean) {
    super(opts);
    this.#tracker = tracker;
    this.#mutationsThroughLink = mutationsThroughLink;
  }

  override query(path: string, input?: unknown, opts?: TRPCRequestOptions): Promise<unknown> {
    return this.#call('query', path, input, opts?.signal);
  }

  override mutation(path: string, input?: unknown, opts?: TRPCRequestOptions): Promise<unknown> {
    if (this.#mutationsThroughLink) return super.mutation(path, input, opts);
    return this.#call('mutation', path, input, opts?.signal);
  }

  #call(type: 'query' | 'mutation', path: string, input: unknown, signal: AbortSignal | null | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const observer = new PromiseObserver(resolve, reject, signal ?? null);
      const cancel = this.#tracker.start({ type, path, input, lastEventId: undefined }, observer);
      if (signal && !observer.settled) observer.listen(cancel);
    });
  }
}

/** Settles a call's promise from the tracker's events; removes its abort listener once settled. */
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
