import { isObservable, observableToAsyncIterable } from '@trpc/server/observable';
import { isAsyncIterable } from '@trpc/server/unstable-core-do-not-import';
import { codeOf, recordSubscriptionEnd, startCallSpan, tracingActive, type HeraldSpan, type TraceCarrier } from '../observability/tracing.js';

/** What tRPC's HTTP adapter calls a procedure with (the part read here). */
interface ProcedureCall {
  readonly path: string;
  readonly type: 'query' | 'mutation' | 'subscription';
  readonly signal?: AbortSignal | undefined;
}

/** A tRPC procedure, as the HTTP door's adapter calls it. */
export type Procedure = ((opts: ProcedureCall) => Promise<unknown>) & { readonly _def: { readonly type: string } };

/**
 * `procedure` as the HTTP door's adapter calls it (routerView.ts): while an
 * OpenTelemetry SDK records spans, every call (each call of a batch too) is
 * a server span named and attributed as the WebSocket door's
 * (`startCallSpan`), the child of the request's trace context
 * (`withRequestTrace` around the adapter, trpcHttp.ts). Without an SDK a
 * call costs the `tracingActive()` check.
 */
export function tracedProcedure(procedure: Procedure): Procedure {
  const traced = (opts: ProcedureCall): Promise<unknown> => (tracingActive() ? runTraced(procedure, opts) : procedure(opts));
  // `_def` (its type, read by the adapter), `procedure` and `meta`, as tRPC's procedure carries them.
  return Object.assign(traced, procedure);
}

async function runTraced(procedure: Procedure, opts: ProcedureCall): Promise<unknown> {
  const span = startCallSpan(opts.type, opts.path);
  if (span === null) return procedure(opts);
  let result: unknown;
  try {
    result = await span.run(() => procedure(opts));
  } catch (cause) {
    span.fail(cause, codeOf(cause));
    span.end();
    throw cause;
  }
  if (opts.type !== 'subscription') {
    span.end();
    return result;
  }
  return withEndRecorded(result, opts, span);
}

/**
 * A subscription's stream, ending its start span now (the stream is
 * returned: what it attaches to on its first step is its own business, as
 * over WebSocket for a stream Herald cannot see into) and recording its end
 * (`recordSubscriptionEnd`, linked to the start) when the stream is done
 * (`ended`), is stopped or done once its client left (`stopped`), or fails (`failed`).
 */
function withEndRecorded(result: unknown, opts: ProcedureCall, span: HeraldSpan): unknown {
  const started: TraceCarrier | null = span.carrier();
  span.end();
  const iterable = isObservable(result)
    ? observableToAsyncIterable(result, opts.signal ?? new AbortController().signal)
    : isAsyncIterable(result)
      ? (result as AsyncIterable<unknown>)
      : null;
  // Not a stream: tRPC's adapter answers with its error, and there is no end to record.
  if (iterable === null) return result;
  let recorded = false;
  const end = (reason: string): void => {
    if (recorded) return;
    recorded = true;
    recordSubscriptionEnd(opts.path, started, reason);
  };
  return {
    [Symbol.asyncIterator](): AsyncIterator<unknown> {
      const iterator = iterable[Symbol.asyncIterator]();
      return {
        async next() {
          try {
            const next = await iterator.next();
            // A channel stream is done once its signal aborts: its client left.
            if (next.done) end(opts.signal?.aborted === true ? 'stopped' : 'ended');
            return next;
          } catch (cause) {
            end('failed');
            throw cause;
          }
        },
        async return(value?: unknown) {
          end('stopped');
          return iterator.return ? iterator.return(value) : { done: true, value };
        },
      };
    },
  };
}
