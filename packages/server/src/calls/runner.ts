import { callTRPCProcedure, getTRPCErrorFromUnknown, TRPCError, type AnyRouter } from '@trpc/server';
import { isBrokerFailure } from '../brokers/errors.js';
import { HeraldError } from '../errors.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { ErrorReporter } from '../transport/admission.js';
import type { IdempotentCalls} from './idempotentCall.js';
import { type KeyedMutation } from './idempotentCall.js';
import type { ErrorContext, Outcomes, StoredOutcome } from './outcome.js';
import { preparedProceduresOf, type PreparedProcedures, type SignalSource } from './preparedCall.js';
import { RunningCall } from './runningCall.js';

/** The procedure types a runner calls. */
export type CallType = 'query' | 'mutation' | 'subscription';

/** What a call runner is built from: one per server (and one for the admin router). */
export interface CallRunnerSettings<TRouter extends AnyRouter> {
  readonly router: TRouter;
  readonly outcomes: Outcomes;
  readonly idempotentCalls: IdempotentCalls;
  /** `onError`, wrapped once in the resolved config. */
  readonly report: ErrorReporter;
  readonly metrics: ServerMetrics;
}

/**
 * Runs calls, the same for every door: a procedure with its caller's
 * context (its prepared path, or tRPC's `callTRPCProcedure` for what the
 * prepared path does not cover), a keyed mutation once per key, and the
 * shaping and reporting of the errors calls end with. A door turns its
 * request into `run`'s or `once`'s arguments and the result into its answer.
 */
export class CallRunner<TRouter extends AnyRouter = AnyRouter> {
  readonly router: TRouter;
  /** How outcomes are written (the router's transformer and error formatter). */
  readonly outcomes: Outcomes;
  private readonly prepared: PreparedProcedures;

  constructor(private readonly settings: CallRunnerSettings<TRouter>) {
    this.router = settings.router;
    this.outcomes = settings.outcomes;
    this.prepared = preparedProceduresOf(settings.router);
  }

  /**
   * Runs the procedure at `path` with `ctx`: its result, or a promise of it;
   * throws or rejects with what the procedure threw. `call` gives it its
   * signal (made on first read).
   */
  run(ctx: unknown, call: SignalSource, type: CallType, path: string, input: unknown, batchIndex: number): unknown {
    const prepared = this.prepared.get(path, type);
    if (prepared) return prepared.call(this.router, path, input, ctx, call, batchIndex);
    const router = this.router;
    // A path that names nothing (nor anything a lazy router could load) is refused at once, as tRPC words it.
    if (!Object.hasOwn(router._def.procedures, path) && !Object.keys(router._def.lazy).some((key) => path === key || path.startsWith(`${key}.`))) {
      throw new TRPCError({ code: 'NOT_FOUND', message: `No "${type}"-procedure on path "${path}"` });
    }
    return callTRPCProcedure({ router, path, getRawInput: async () => input, ctx, type, signal: call.signal, batchIndex });
  }

  /** Whose idempotency keys a caller's are (see `IdempotentCalls.scopeOf`). */
  scopeOf(ctx: unknown, userKey: string | null, address: string): string {
    return this.settings.idempotentCalls.scopeOf(ctx, userKey, address);
  }

  /**
   * Runs a keyed mutation once per key (see `IdempotentCalls`): its outcome
   * (data or error, as every door stores and replays it) and whether it was
   * replayed. The run is never cancelled by its caller going away, so the
   * outcome is recorded for the repeat. Rejects only when the key itself
   * fails (IDEMPOTENCY_KEY_REUSED, a first attempt still running) or the
   * outcome is not known (BROKER_UNAVAILABLE: the store failed, or the
   * procedure failed with the broker; nothing is stored, and a retry with
   * the key runs it again, see `IdempotentCalls`).
   */
  async once(mutation: KeyedMutation, context: ErrorContext, batchIndex: number): Promise<{ readonly outcome: StoredOutcome; readonly replayed: boolean }> {
    const { outcomes, metrics } = this.settings;
    return this.settings.idempotentCalls.run(mutation, async () => {
      try {
        return outcomes.dataBody(await this.run(context.ctx, new RunningCall('mutation'), 'mutation', mutation.path, context.input, batchIndex));
      } catch (cause) {
        // A broker failure is no outcome: the mutation may have done part of its work (a publish may still run).
        if (isBrokerFailure(cause)) throw cause;
        const error = this.failure(cause, context);
        metrics.error(errorCodeOf(error));
        return outcomes.errorBody(error, context, (formatterError) => this.report(formatterError, context));
      }
    });
  }

  /** The TRPCError a call ended with, reported through `onError`. */
  failure(cause: unknown, context: Pick<ErrorContext, 'type' | 'path'>): TRPCError {
    const error = getTRPCErrorFromUnknown(cause);
    this.report(error, context);
    return error;
  }

  /** Reports an error of a call (or of no call: type `unknown`) through `onError`. */
  report(error: unknown, context: Pick<ErrorContext, 'type' | 'path'>): void {
    this.settings.report(error, context.type, context.path);
  }
}

/** The Herald code of a Herald error, else the tRPC code: the `code` label of `herald_errors_total`. */
export function errorCodeOf(error: TRPCError): string {
  return error instanceof HeraldError ? error.heraldCode : error.code;
}
