import { getErrorShape, getTRPCErrorFromUnknown, type AnyRouter, type TRPCError } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { transformer } from '@herald/shared';
import { isPlainJson } from '@herald/shared/internal';

/** What an error shape is built from: the call it concerns, as far as it is known. */
export interface ErrorContext {
  readonly type: 'query' | 'mutation' | 'subscription' | 'unknown';
  readonly path: string | undefined;
  readonly input: unknown;
  readonly ctx: unknown;
}

/** For answers that concern no request, or one whose context is not known yet. */
export const UNKNOWN_CONTEXT: ErrorContext = { type: 'unknown', path: undefined, input: undefined, ctx: undefined };

/** Used when even the error formatter fails: it says nothing the formatter meant to hide. */
const FALLBACK_ERROR = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

/**
 * A call's outcome as JSON text, the same for every door: `"result":{…}` or
 * `"error":…`, data and error shape serialized by the router's transformer.
 * The WebSocket door puts it under a request's envelope (`Wire`), the HTTP
 * door in tRPC's HTTP answer, and an idempotent mutation stores it as it is
 * to replay on either door.
 */
export type StoredOutcome = string;

/** Builds outcomes with one router's transformer and error formatter. */
export class Outcomes {
  /** The router serializes with Herald's transformer, so plain JSON needs no walk (see `isPlainJson`). */
  protected readonly heraldTransformer: boolean;

  constructor(protected readonly router: AnyRouter) {
    this.heraldTransformer = router._def._config.transformer.output === transformer;
  }

  protected serialize(value: unknown): unknown {
    return this.router._def._config.transformer.output.serialize(value);
  }

  /** A data outcome. */
  dataBody(value: unknown): StoredOutcome {
    return `"result":{"type":"data","data":${this.serializedJson(value)}}`;
  }

  /** An error outcome: the formatter's shape, or a fallback that hides everything when the formatter throws (reported). */
  errorBody(error: TRPCError, context: ErrorContext, onFormatterError: (error: unknown) => void): StoredOutcome {
    return `"error":${JSON.stringify(this.errorShape(error, context, onFormatterError))}`;
  }

  /** The serialized error shape tRPC's protocols carry. */
  errorShape(error: TRPCError, context: ErrorContext, onFormatterError: (error: unknown) => void): unknown {
    try {
      return this.serialize(getErrorShape({ config: this.router._def._config, error, ...context }));
    } catch (cause) {
      onFormatterError(getTRPCErrorFromUnknown(cause));
      return this.serialize(FALLBACK_ERROR);
    }
  }

  /** A serialized value (an outcome's data or error shape) read back with the router's transformer. */
  deserialize(serialized: unknown): unknown {
    return this.router._def._config.transformer.output.deserialize(serialized);
  }

  /** `value` through the transformer, as JSON text: superjson's `{"json":…}` spelled out directly when it would add nothing. */
  protected serializedJson(value: unknown): string {
    if (this.heraldTransformer && isPlainJson(value)) return `{"json":${JSON.stringify(value)}}`;
    return JSON.stringify(this.serialize(value));
  }
}
