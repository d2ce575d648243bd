import { describe, expect, it } from 'vitest';
import { TRPCClientError } from '@trpc/client';
import { transformer } from '@herald/shared';
import { callEventOf, connectionFrameOf, credentialsNoticeOf } from '../../src/sessions/frames.js';

/** The session's decoding of raw response frames (what `SocketSession` hands the tracker and the connection). */
const frame = (text: string) => JSON.parse(text) as Record<string, unknown>;

describe('callEventOf', () => {
  it('decodes data (primitives without copies, revived values, tracked ids), started and stopped', () => {
    expect(callEventOf(frame('{"id":1,"result":{"type":"data","data":{"json":"x"}}}'))).toEqual({ type: 'data', data: 'x' });
    const date = new Date(0);
    expect(callEventOf({ result: { type: 'data', data: transformer.serialize({ at: date }) } })).toEqual({ type: 'data', data: { at: date } });
    expect(callEventOf(frame('{"id":1,"result":{"type":"data","id":"7-0","data":{"json":1}}}'))).toEqual({ type: 'data', id: '7-0', data: 1 });
    expect(callEventOf(frame('{"id":1,"result":{"data":{"json":null}}}'))).toEqual({ type: 'data', data: null });
    expect(callEventOf(frame('{"id":1,"result":{"type":"started"}}'))).toEqual({ type: 'started' });
    expect(callEventOf(frame('{"id":1,"result":{"type":"stopped"}}'))).toEqual({ type: 'stopped' });
  });

  it('decodes an error shape into a TRPCClientError with its data', () => {
    const shape = { code: -32_600, message: 'bad input', data: { code: 'BAD_REQUEST', httpStatus: 400 } };
    const event = callEventOf({ error: transformer.serialize(shape) });
    expect(event.type).toBe('error');
    const error = (event as { error: TRPCClientError<never> }).error;
    expect(error).toBeInstanceOf(TRPCClientError);
    expect(error.message).toBe('bad input');
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST' });
  });

  it.each([
    ['{"id":1,"result":"garbage"}', 'a result that is not an object'],
    ['{"id":1,"result":{"type":"weird"}}', 'a result of unknown type "weird"'],
    ['{"id":1,"result":{"type":"data","data":"garbage"}}', 'result data that is not a superjson value'],
    ['{"id":1,"result":{"type":"data","data":{"json":"x","meta":{"values":["bigint"]}}}}', 'a value it could not revive: Cannot convert x to a BigInt'],
    ['{"id":1,"result":{"type":"data","data":{"json":"x","meta":{"values":[["custom","future"]]}}}}', 'a value it could not revive'],
    ['{"id":1,"error":"garbage"}', 'an error that is not a tRPC error shape'],
    ['{"id":1,"error":null}', 'an error it could not revive'],
    ['{"id":1,"error":{"json":{"message":"no code"}}}', 'an error that is not a tRPC error shape'],
  ])('never throws: %s is unreadable (%s)', (text, what) => {
    const event = callEventOf(frame(text));
    expect(event.type).toBe('unreadable');
    const error = (event as { error: TRPCClientError<never> }).error;
    expect(error.data).toMatchObject({ code: 'PARSE_ERROR' });
    expect(error.message).toContain(what);
  });
});

describe('connectionFrameOf', () => {
  it('reads the reconnect notice, the session notice and the server error about the connection', () => {
    expect(connectionFrameOf(frame('{"id":null,"method":"reconnect"}'))).toEqual({ kind: 'notice', notice: { type: 'reconnect' } });
    expect(connectionFrameOf(frame('{"id":null,"method":"herald.session","params":{"expiresInMs":500}}'))).toEqual({
      kind: 'notice',
      notice: { type: 'credentials', expiresInMs: 500, refused: null },
    });
    const error = transformer.serialize({ code: -32_001, message: 'who are you', data: { code: 'UNAUTHORIZED' } });
    expect(connectionFrameOf({ id: null, error })).toEqual({ kind: 'error', error: { code: 'UNAUTHORIZED', message: 'who are you' } });
  });

  it('ignores a notice it does not know, and reports what it cannot read', () => {
    expect(connectionFrameOf(frame('{"id":null,"method":"from-the-future"}'))).toBeNull();
    for (const text of ['{"id":null,"error":"garbage"}', '{"something":"else"}', '{"id":null,"method":"herald.session","params":null}']) {
      const read = connectionFrameOf(frame(text));
      expect(read).toMatchObject({ kind: 'notice', notice: { type: 'unreadable' } });
    }
  });
});

describe('credentialsNoticeOf', () => {
  it('checks the params, and keeps a refusal whose code this client does not know', () => {
    expect(credentialsNoticeOf({ expiresInMs: null })).toEqual({ type: 'credentials', expiresInMs: null, refused: null });
    expect(credentialsNoticeOf({ expiresInMs: 'soon' })).toMatchObject({ type: 'unreadable' });
    expect(credentialsNoticeOf({ expiresInMs: 10, refused: { heraldCode: 'TOKEN_EXPIRED', message: 'old' } })).toEqual({
      type: 'credentials',
      expiresInMs: 10,
      refused: { heraldCode: 'TOKEN_EXPIRED', message: 'old' },
    });
    expect(credentialsNoticeOf({ expiresInMs: 10, refused: { heraldCode: 'NEWER', message: 'x' } })).toMatchObject({ refused: { heraldCode: 'UNAUTHORIZED' } });
    expect(credentialsNoticeOf({ expiresInMs: 10, refused: 'nope' })).toMatchObject({ type: 'unreadable' });
  });
});
