import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { HeraldErrorCode, transformer } from '@herald/shared';
import { SESSION_NOTICE_METHOD } from '@herald/shared/internal';
import { parseError } from '../errors.js';
import type { CallEvent, ConnectionError, ConnectionNotice, CredentialsRefused } from './session.js';

/**
 * Decoding of tRPC's WebSocket response frames (`{ id, result }`, `{ id, error }`,
 * `{ id: null, ... }`) into the events and notices a session reports, with
 * Herald's transformer, as tRPC's `wsLink` does. Nothing here throws: a frame
 * that cannot be decoded or revived becomes an `unreadable` event or notice
 * carrying a `PARSE_ERROR` that says what was wrong. A throw here would run
 * inside the socket's `message` event, where it ends a Node process (issue 32).
 */

/** The same objects every time: these events carry nothing else. */
const STARTED: CallEvent = { type: 'started' };
const STOPPED: CallEvent = { type: 'stopped' };
const RECONNECT: ConnectionNotice = { type: 'reconnect' };

/** The event of a frame that names a call (`{ id: <number>, result | error }`). */
export function callEventOf(frame: { readonly result?: unknown; readonly error?: unknown }): CallEvent {
  if ('error' in frame) {
    const shape = errorShapeOf(frame.error);
    return shape instanceof TRPCClientError ? { type: 'unreadable', error: shape } : { type: 'error', error: TRPCClientError.from<AnyRouter>({ ...frame, error: shape }) };
  }
  const result = frame.result;
  if (!isObject(result)) return unreadable('a result that is not an object');
  const type = result.type;
  if (type === 'started') return STARTED;
  if (type === 'stopped') return STOPPED;
  // A result without a type is data.
  if (type !== undefined && type !== 'data') return unreadable(`a result of unknown type ${JSON.stringify(type)}`);
  const data = result.data;
  if (!isObject(data)) return unreadable('result data that is not a superjson value');
  let value: unknown;
  const json = data.json;
  if (!('meta' in data)) {
    // Without `meta` superjson revives a value to a deep copy of itself; the frame was parsed for this call alone, so it is the value.
    value = json;
  } else {
    try {
      value = transformer.deserialize(data as never);
    } catch (cause) {
      return unreadable('a value it could not revive', cause);
    }
  }
  return result.id !== undefined ? { type: 'data', id: String(result.id), data: value } : { type: 'data', data: value };
}

/** What a frame without a call id says: a notice, the server's error about the connection (it closes next), or null for a notice of a newer server that needs nothing. */
export function connectionFrameOf(
  frame: Readonly<Record<string, unknown>>,
): { readonly kind: 'notice'; readonly notice: ConnectionNotice } | { readonly kind: 'error'; readonly error: ConnectionError } | null {
  const method = frame['method'];
  if (method === 'reconnect') return { kind: 'notice', notice: RECONNECT };
  if (method === SESSION_NOTICE_METHOD) return { kind: 'notice', notice: credentialsNoticeOf(frame['params']) };
  if ('error' in frame) {
    const shape = errorShapeOf(frame['error']);
    if (shape instanceof TRPCClientError) return { kind: 'notice', notice: { type: 'unreadable', error: shape } };
    const data = shape.data;
    return { kind: 'error', error: { code: isObject(data) && typeof data['code'] === 'string' ? data['code'] : null, message: shape.message } };
  }
  if (typeof method === 'string') return null;
  return { kind: 'notice', notice: unreadableNotice('a frame that is neither an answer nor a notice') };
}

/** Herald's session notice (`params` of `herald.session`): how long the credentials are trusted, or why a refresh was refused. */
export function credentialsNoticeOf(params: unknown): ConnectionNotice {
  if (!isObject(params)) return unreadableNotice('a session notice without params');
  const { expiresInMs, refused } = params;
  if (expiresInMs !== null && (typeof expiresInMs !== 'number' || !(expiresInMs >= 0))) {
    return unreadableNotice('a session notice whose expiresInMs is not a number');
  }
  if (refused === undefined || refused === null) return { type: 'credentials', expiresInMs, refused: null };
  if (!isObject(refused) || typeof refused['message'] !== 'string') return unreadableNotice('a session notice whose refusal has no message');
  // A code this client does not know (a newer server) is still a refused refresh.
  const heraldCode = typeof refused['heraldCode'] === 'string' && refused['heraldCode'] in HeraldErrorCode ? (refused['heraldCode'] as HeraldErrorCode) : 'UNAUTHORIZED';
  const reason: CredentialsRefused = { heraldCode, message: refused['message'] };
  return { type: 'credentials', expiresInMs, refused: reason };
}

/** A notice about a frame no call can take. */
export function unreadableNotice(what: string, cause?: unknown): ConnectionNotice {
  return { type: 'unreadable', error: parseError(what, cause) };
}

function unreadable(what: string, cause?: unknown): CallEvent {
  return { type: 'unreadable', error: parseError(what, cause) };
}

/** A tRPC error shape through the transformer, or the PARSE_ERROR that says why it is not one. */
function errorShapeOf(error: unknown): { readonly code: number; readonly message: string; readonly data?: unknown } | TRPCClientError<AnyRouter> {
  let shape: unknown;
  try {
    shape = transformer.deserialize(error as never);
  } catch (cause) {
    return parseError('an error it could not revive', cause);
  }
  if (!isObject(shape) || typeof shape['code'] !== 'number' || typeof shape['message'] !== 'string') return parseError('an error that is not a tRPC error shape');
  return shape as { code: number; message: string; data?: unknown };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
