import { TRPCError } from '@trpc/server';
import type { HeraldErrorCode } from '@herald/shared';
import { TRPC_CODE_OF } from '@herald/shared/internal';

/**
 * A TRPCError that also carries a stable Herald code. Thrown from channels,
 * brokers and auth; `heraldErrorFormatter` puts the code in `error.data` so
 * clients can switch on it.
 */
export class HeraldError extends TRPCError {
  readonly heraldCode: HeraldErrorCode;

  constructor(code: HeraldErrorCode, message: string, options: { cause?: unknown } = {}) {
    super({ code: TRPC_CODE_OF[code], message, cause: options.cause });
    this.name = 'HeraldError';
    this.heraldCode = code;
  }
}

interface FormatterInput {
  shape: { data: object };
  error: TRPCError;
}

/**
 * Pass as `errorFormatter` to `initTRPC.create()`: adds `heraldCode` for
 * Herald errors and `zodIssues` for input validation failures, so a client gets
 * something it can act on without parsing messages.
 */
export function heraldErrorFormatter<TShape extends FormatterInput['shape']>(opts: {
  shape: TShape;
  error: TRPCError;
}): TShape & { data: TShape['data'] & { heraldCode: HeraldErrorCode | null; zodIssues: ZodIssueLike[] | null } } {
  const { shape, error } = opts;
  const heraldCode = error instanceof HeraldError ? error.heraldCode : null;
  return { ...shape, data: { ...shape.data, heraldCode, zodIssues: zodIssuesOf(error.cause) } };
}

/** The parts of a zod issue a client needs; zod's own type is kept off the wire types. */
export interface ZodIssueLike {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

function zodIssuesOf(cause: unknown): ZodIssueLike[] | null {
  if (typeof cause !== 'object' || cause === null) return null;
  const issues = (cause as { issues?: unknown }).issues;
  if (!Array.isArray(issues)) return null;
  return issues.map((issue: ZodIssueLike) => ({
    code: String(issue.code),
    path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
    message: issue.message,
  }));
}
