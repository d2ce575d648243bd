import type { ServerResponse } from 'node:http';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { TRPCError } from '@trpc/server';
import type { Outcomes, StoredOutcome } from '../calls/outcome.js';

/** How HTTP answers are shaped: the router's outcomes, and where a failing error formatter is reported. */
export interface HttpShapes {
  readonly outcomes: Outcomes;
  readonly reportFormatterError: (error: unknown, path: string) => void;
}

/**
 * Answers with `error` as tRPC's HTTP protocol answers one call (its status,
 * its error shape), for what Herald answers itself rather than through
 * tRPC's adapter; unless an answer has begun, which is then ended.
 */
export function writeError(shapes: HttpShapes, res: ServerResponse, error: TRPCError, path: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const shape = shapes.outcomes.errorShape(error, { type: 'mutation', path, input: undefined, ctx: undefined }, (cause) =>
    shapes.reportFormatterError(cause, path),
  );
  res.writeHead(getHTTPStatusCodeFromError(error), { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: shape }));
}

/**
 * Answers with an outcome (see `StoredOutcome`), as `httpLink` (one call)
 * or `httpBatchLink` (a batch of one) expects it; `replayed` (a repeat of
 * an idempotent mutation) adds `Idempotent-Replayed: true`.
 */
export function writeOutcome(shapes: HttpShapes, res: ServerResponse, outcome: StoredOutcome, batch: boolean, replayed: boolean): void {
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
  res.writeHead(status, headers);
  res.end(JSON.stringify(batch ? [item] : item));
}
