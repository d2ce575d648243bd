import type { TRPCError } from '@trpc/server';
import { packFrame, packMessage, serializeWithBinaryBytes } from '@herald/shared/internal';
import { Outcomes, type ErrorContext, type StoredOutcome } from '../calls/outcome.js';
import { isPlainJson } from '@herald/shared/internal';
import type { HeraldError } from '../errors.js';
import { sessionNotice, type ChannelMarker, type Envelope } from './wire.js';

/**
 * tRPC's WebSocket response frames for a MessagePack connection: the same
 * messages `Wire` writes as JSON text, built as values and packed once, with
 * every `Uint8Array` serialized straight to `bin` (`serializeWithBinaryBytes`):
 * no JSON text is made, parsed back and packed. The methods mirror `Wire`'s,
 * so a connection picks one of the two by its encoding and calls the same name.
 */
export class BinaryWire extends Outcomes {
  private readonly reconnectFrame = packFrame({ id: null, method: 'reconnect' });

  /** The router's transformer, bytes left as bytes when it is Herald's. */
  protected override serialize(value: unknown): unknown {
    return this.heraldTransformer ? serializeWithBinaryBytes(value) : super.serialize(value);
  }

  data(envelope: Envelope, value: unknown): Uint8Array {
    const data = this.heraldTransformer && isPlainJson(value) ? { json: value } : this.serialize(value);
    return packFrame({ ...fieldsOf(envelope), result: { type: 'data', data } });
  }

  /**
   * Puts a stored response body (JSON text, bytes in base64: what an
   * idempotent mutation recorded for either door) under `envelope`: read
   * back and packed with its bytes as `bin`.
   */
  withEnvelope(envelope: Envelope, body: StoredOutcome): Uint8Array {
    return packMessage(JSON.parse(`{${envelope},${body}}`));
  }

  /** The data of a tracked event as a value to pack: the pair `{ id, data }` serialized, bytes as bytes. */
  serializeTracked(eventId: string, value: unknown): unknown {
    return this.serialize({ id: eventId, data: value });
  }

  /** A data frame of a tracked event whose data `serializeTracked` made. */
  trackedData(envelope: Envelope, eventId: string, data: unknown): Uint8Array {
    return packFrame({ ...fieldsOf(envelope), result: { type: 'data', id: eventId, data } });
  }

  tracked(envelope: Envelope, eventId: string, value: unknown): Uint8Array {
    return this.trackedData(envelope, eventId, this.serializeTracked(eventId, value));
  }

  /** A data frame of a channel marker: superjson leaves its strings and numbers as they are. */
  marker(envelope: Envelope, eventId: string, event: ChannelMarker): Uint8Array {
    return this.trackedData(envelope, eventId, { json: { id: eventId, data: event } });
  }

  started(envelope: Envelope): Uint8Array {
    return packFrame({ ...fieldsOf(envelope), result: { type: 'started' } });
  }

  stopped(envelope: Envelope): Uint8Array {
    return packFrame({ ...fieldsOf(envelope), result: { type: 'stopped' } });
  }

  error(envelope: Envelope, error: TRPCError, context: ErrorContext, onFormatterError: (error: unknown) => void): Uint8Array {
    return packFrame({ ...fieldsOf(envelope), error: this.errorShape(error, context, onFormatterError) });
  }

  reconnect(): Uint8Array {
    return this.reconnectFrame;
  }

  session(expiresInMs: number | null, refused: HeraldError | null): Uint8Array {
    return packFrame(sessionNotice(expiresInMs, refused));
  }
}

const ID_PREFIX = '"id":';
const JSONRPC_SUFFIX = ',"jsonrpc":"2.0"';
/** A request id as `envelopeOf` writes the usual one: digits, read without JSON.parse. */
const DIGITS = /^[0-9]{1,15}$/;

/**
 * A request's envelope (`"id":…`, and `"jsonrpc":"2.0"` when the request
 * had it, see `envelopeOf`) as the fields of a message, in the order the JSON
 * frame has them. A numeric id (what tRPC clients send) is read directly;
 * any other id is the JSON `envelopeOf` wrote.
 */
function fieldsOf(envelope: Envelope): { id: unknown; jsonrpc?: '2.0' } {
  const jsonrpc = envelope.endsWith(JSONRPC_SUFFIX);
  const idText = envelope.slice(ID_PREFIX.length, jsonrpc ? envelope.length - JSONRPC_SUFFIX.length : envelope.length);
  const id: unknown = DIGITS.test(idText) ? Number(idText) : JSON.parse(idText);
  return jsonrpc ? { id, jsonrpc: '2.0' } : { id };
}
