import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { TRPCError } from '@trpc/server';
import type { Outcomes, StoredOutcome } from '../calls/outcome.js';
import type { HttpAnswer } from './exchange.js';

/** How HTTP answers are shaped: the router's outcomes, and where a failing error formatter is reported. */
export interface HttpShapes {
  readonly outcomes: Outcomes;
  readonly reportFormatterError: (error: unknown, path: string) => void;
}

/**
 * `error` as tRPC's HTTP protocol answers one call (its status, its error
 * shape), for what Herald answers itself rather than through tRPC's adapter.
 */
export function errorAnswer(shapes: HttpShapes, error: TRPCError, path: string): HttpAnswer {
  const shape = shapes.outcomes.errorShape(error, { type: 'mutation', path, input: undefined, ctx: undefined }, (cause) =>
    shapes.reportFormatterError(cause, path),
  );
  return {
    status: getHTTPStatusCodeFromError(error),
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ error: shape }),
  };
}

/**
 * An outcome (see `StoredOutcome`) as `httpLink` (one call) or
 * `httpBatchLink` (a batch of one) expects it; `replayed` (a repeat of an
 * idempotent mutation) adds `Idempotent-Replayed: true`.
 */
export function outcomeAnswer(shapes: HttpShapes, outcome: StoredOutcome, batch: boolean, replayed: boolean): HttpAnswer {
  const stored = JSON.parse(`{${outcome}}`) as { result?: { data?: unknown }; error?: unknown };
  let status = 200;
  let item: unknown;
  if (stored.error !== undefined) {
    item = { error: stored.error };
    const shape = shapes.outcomes.deserialize(stored.error) as { data?: { httpStatus?: unknown } } | null;
    status = typeof shape?.data?.httpStatus === 'number' ? shape.data.httpStatus : 500;
  } else {
    item = { result: stored.result && 'data' in stored.result ? { data: stored.result.data } : {} };
  }
  const headers: Record<string, string> = { 'content-type': 'application/json', vary: 'trpc-accept, accept' };
  if (replayed) headers['idempotent-replayed'] = 'true';
  return { status, headers, body: JSON.stringify(batch ? [item] : item) };
}
