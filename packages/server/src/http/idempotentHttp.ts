import { getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import { IDEMPOTENCY_KEY_HEADER } from '@herald/shared/internal';
import { idempotencyKeyFrom } from '../calls/idempotentCall.js';
import { inputTransformerOf } from '../calls/plainJson.js';
import type { ErrorContext } from '../calls/outcome.js';
import type { CallRunner } from '../calls/runner.js';
import { codeOf, startCallSpan, tracingActive } from '../observability/tracing.js';
import type { Admitted, Caller } from '../transport/gate.js';
import type { RequestHead } from '../transport/requestHead.js';
import { outcomeAnswer, type HttpShapes } from './answers.js';
import type { HttpExchange } from './exchange.js';

/** The `Idempotency-Key` a request carries, or null when it has none that is usable. */
export function idempotencyKeyOf(req: RequestHead): string | null {
  const value = req.headers[IDEMPOTENCY_KEY_HEADER];
  return idempotencyKeyFrom(Array.isArray(value) ? value[0] : value);
}

/** What an idempotent mutation over HTTP runs on. */
export interface IdempotentHttpSettings extends HttpShapes {
  readonly runner: CallRunner;
  readonly maxPayloadBytes: number;
}

/**
 * A mutation sent over HTTP with an `Idempotency-Key`: read here (a JSON
 * body, as `httpLink` and `httpBatchLink` send it) and run by the call
 * runner's `once`, the same as over WebSocket, in the same store and under
 * the same scope, path, key and input fingerprint, so a retry that switched
 * door still gets the first outcome. The answer is the outcome in tRPC's
 * HTTP form.
 */
export async function serveIdempotent(
  settings: IdempotentHttpSettings,
  exchange: HttpExchange,
  call: { readonly path: string; readonly batch: boolean; readonly key: string },
  caller: Admitted & Caller,
): Promise<void> {
  const { runner, outcomes } = settings;
  const { path, batch, key } = call;
  const context: ErrorContext = { type: 'mutation', path, input: undefined, ctx: caller.ctx };
  const answerError = (error: TRPCError): void => {
    const outcome = outcomes.errorBody(error, context, (cause) => settings.reportFormatterError(cause, path));
    exchange.answer(outcomeAnswer(settings, outcome, batch, false));
  };
  if (path.includes(',')) {
    return answerError(new TRPCError({ code: 'BAD_REQUEST', message: 'An Idempotency-Key covers one mutation: send a batch of one, or no batch' }));
  }
  if (!(exchange.head.headers['content-type'] ?? '').startsWith('application/json')) {
    return answerError(new TRPCError({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'A mutation with an Idempotency-Key needs a JSON body (content-type: application/json)' }));
  }
  const body = await exchange.readBody(settings.maxPayloadBytes);
  if (body === null) {
    return answerError(new TRPCError({ code: 'PAYLOAD_TOO_LARGE', message: `The request body is over ${settings.maxPayloadBytes} bytes (maxPayloadBytes)` }));
  }
  let wireInput: unknown;
  let input: unknown;
  try {
    const parsed: unknown = body === '' ? undefined : JSON.parse(body);
    wireInput = batch ? (parsed as Record<string, unknown> | undefined)?.['0'] : parsed;
    input = inputTransformerOf(runner.router._def._config.transformer).input.deserialize(wireInput);
  } catch (cause) {
    if (cause instanceof TRPCError) return answerError(cause);
    return answerError(new TRPCError({ code: 'PARSE_ERROR', message: 'The request body is not the JSON tRPC sends', cause }));
  }
  let answer: { readonly outcome: string; readonly replayed: boolean };
  // Its span, as the adapter's calls get theirs (tracedProcedures.ts): `once` runs the router's own procedure.
  const span = tracingActive() ? startCallSpan('mutation', path) : null;
  try {
    const once = () =>
      runner.once(
        { scope: runner.scopeOf(caller.ctx, caller.userKey, caller.address), path, key, inputText: JSON.stringify(wireInput) ?? '' },
        { ...context, input },
        0,
      );
    answer = await (span ? span.run(once) : once());
    span?.set('herald.call.replayed', answer.replayed);
  } catch (cause) {
    span?.fail(cause, codeOf(cause));
    return answerError(getTRPCErrorFromUnknown(cause));
  } finally {
    span?.end();
  }
  exchange.answer(outcomeAnswer(settings, answer.outcome, batch, answer.replayed));
}
