import { getErrorShape, getTRPCErrorFromUnknown, type AnyRouter, type TRPCError } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { transformer } from '@herald/shared';
import { SESSION_NOTICE_METHOD, type SessionNotice } from '@herald/shared/internal';
import type { HeraldError } from '../errors.js';
import { isPlainJson } from './plainJson.js';

/**
 * tRPC's WebSocket response frames, built as strings. The envelope (`"id":…`
 * plus `"jsonrpc"` when the request had it) is computed once per request and
 * spliced into every frame of it, so a subscription's data frames cost one
 * string concatenation around data that was serialized once.
 */
export type Envelope = string;

export const NULL_ENVELOPE: Envelope = '"id":null';

export function envelopeOf(id: number | string | null, jsonrpc: '2.0' | undefined): Envelope {
  return `"id":${JSON.stringify(id)}${jsonrpc ? ',"jsonrpc":"2.0"' : ''}`;
}

/** Used when even the error formatter fails: it says nothing the formatter meant to hide. */
const FALLBACK_ERROR = {
  code: TRPC_ERROR_CODES_BY_KEY.INTERNAL_SERVER_ERROR,
  message: 'Internal server error',
  data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500 },
};

export interface ErrorContext {
  readonly type: 'query' | 'mutation' | 'subscription' | 'unknown';
  readonly path: string | undefined;
  readonly input: unknown;
  readonly ctx: unknown;
}

export class Wire {
  /** The router serializes with Herald's transformer, so plain JSON needs no walk (see `isPlainJson`). */
  private readonly heraldTransformer: boolean;

  constructor(private readonly router: AnyRouter) {
    this.heraldTransformer = router._def._config.transformer.output === transformer;
  }

  private serialize(value: unknown): unknown {
    return this.router._def._config.transformer.output.serialize(value);
  }

  data(envelope: Envelope, value: unknown): string {
    return `{${envelope},${this.dataBody(value)}}`;
  }

  /** A response without its envelope: what an idempotent mutation stores and replays under another id. */
  dataBody(value: unknown): string {
    return `"result":{"type":"data","data":${this.serializedJson(value)}}`;
  }

  /** `value` through the transformer, as JSON text: superjson's `{"json":…}` spelled out directly when it would add nothing. */
  private serializedJson(value: unknown): string {
    if (this.heraldTransformer && isPlainJson(value)) return `{"json":${JSON.stringify(value)}}`;
    return JSON.stringify(this.serialize(value));
  }

  /** Puts a stored response body under `envelope`. */
  withEnvelope(envelope: Envelope, body: string): string {
    return `{${envelope},${body}}`;
  }

  /**
   * The data of a tracked event as JSON text: tRPC clients expect the pair
   * `{ id, data }`, serialized as one value, beside the id in the envelope.
   */
  serializeTracked(eventId: string, value: unknown): string {
    return JSON.stringify(this.serialize({ id: eventId, data: value }));
  }

  /** A data frame of a tracked event whose data `serializeTracked` made. */
  trackedData(envelope: Envelope, eventId: string, dataJson: string): string {
    return `{${envelope},"result":{"type":"data","id":${JSON.stringify(eventId)},"data":${dataJson}}}`;
  }

  tracked(envelope: Envelope, eventId: string, value: unknown): string {
    return this.trackedData(envelope, eventId, this.serializeTracked(eventId, value));
  }

  started(envelope: Envelope): string {
    return `{${envelope},"result":{"type":"started"}}`;
  }

  stopped(envelope: Envelope): string {
    return `{${envelope},"result":{"type":"stopped"}}`;
  }

  error(envelope: Envelope, error: TRPCError, context: ErrorContext, onFormatterError: (error: unknown) => void): string {
    return `{${envelope},${this.errorBody(error, context, onFormatterError)}}`;
  }

  errorBody(error: TRPCError, context: ErrorContext, onFormatterError: (error: unknown) => void): string {
    let shape: unknown;
    try {
      shape = this.serialize(getErrorShape({ config: this.router._def._config, error, ...context }));
    } catch (cause) {
      onFormatterError(getTRPCErrorFromUnknown(cause));
      shape = this.serialize(FALLBACK_ERROR);
    }
    return `"error":${JSON.stringify(shape)}`;
  }

  reconnect(): string {
    return '{"id":null,"method":"reconnect"}';
  }

  /**
   * Herald's session notice (see `SessionNotice`): how long the server
   * still trusts the connection's credentials, and why a refresh was
   * refused. Stock tRPC clients ignore notices they do not know.
   */
  session(expiresInMs: number | null, refused: HeraldError | null): string {
    const params: SessionNotice['params'] = {
      expiresInMs: expiresInMs === null ? null : Math.max(0, Math.round(expiresInMs)),
      ...(refused ? { refused: { heraldCode: refused.heraldCode, message: refused.message } } : {}),
    };
    return JSON.stringify({ id: null, method: SESSION_NOTICE_METHOD, params } satisfies SessionNotice);
  }
}
