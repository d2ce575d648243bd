import type { TRPCError } from '@trpc/server';
import type { ChannelEvent } from '@herald/shared';
import { LIVE_PATCH_TYPE, LIVE_PATCHES_PARAM, SESSION_NOTICE_METHOD, type SessionNotice } from '@herald/shared/internal';
import { Outcomes, type ErrorContext } from '../calls/outcome.js';
import type { HeraldError } from '../errors.js';

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

/**
 * tRPC's WebSocket frames around outcomes (see `Outcomes`), and the
 * notices Herald sends outside any request.
 */
export class Wire extends Outcomes {
  data(envelope: Envelope, value: unknown): string {
    return `{${envelope},${this.dataBody(value)}}`;
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

  /** A data frame of a channel marker (`live`, `gap`...): see `plainTrackedData`. */
  marker(envelope: Envelope, eventId: string, event: ChannelMarker): string {
    return this.trackedData(envelope, eventId, plainTrackedData(eventId, event));
  }

  started(envelope: Envelope): string {
    return `{${envelope},"result":{"type":"started"}}`;
  }

  /** `started` for a live query whose results may go as patches (only to a client that asked: see `LIVE_PATCHES_PARAM`). */
  startedWithPatches(envelope: Envelope): string {
    return `{${envelope},"result":{"type":"started","${LIVE_PATCHES_PARAM}":true}}`;
  }

  /** A live query patch frame: `patchJson` (RFC 6902, as text) turns the tracked data of version `base` into that of `eventId`. */
  livePatch(envelope: Envelope, eventId: string, base: string, patchJson: string): string {
    return `{${envelope},"result":{"type":"${LIVE_PATCH_TYPE}","id":${JSON.stringify(eventId)},"base":${JSON.stringify(base)},"patch":${patchJson}}}`;
  }

  stopped(envelope: Envelope): string {
    return `{${envelope},"result":{"type":"stopped"}}`;
  }

  error(envelope: Envelope, error: TRPCError, context: ErrorContext, onFormatterError: (error: unknown) => void): string {
    return `{${envelope},${this.errorBody(error, context, onFormatterError)}}`;
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
    return JSON.stringify(sessionNotice(expiresInMs, refused));
  }
}

/** A channel event that is not a message: its fields are strings and numbers. */
export type ChannelMarker = Exclude<ChannelEvent<unknown>, { type: 'message' }>;

/**
 * A marker's tracked data as Herald's transformer (superjson) writes it: its
 * fields are strings and numbers, which superjson leaves as they are, so it
 * is `{"json":…}` around the plain JSON, without superjson's walk.
 */
export function plainTrackedData(position: string, event: ChannelMarker): string {
  return `{"json":${JSON.stringify({ id: position, data: event })}}`;
}

/** Herald's session notice, the same message in either encoding. */
export function sessionNotice(expiresInMs: number | null, refused: HeraldError | null): SessionNotice {
  const params: SessionNotice['params'] = {
    expiresInMs: expiresInMs === null ? null : Math.max(0, Math.round(expiresInMs)),
    ...(refused ? { refused: { heraldCode: refused.heraldCode, message: refused.message } } : {}),
  };
  return { id: null, method: SESSION_NOTICE_METHOD, params };
}
