import { describe, expect, it } from 'vitest';
import { initTRPC, TRPCError } from '@trpc/server';
import { transformer } from '@herald/shared';
import { packMessage, unpackMessage } from '@herald/shared/internal';
import { UNKNOWN_CONTEXT } from '../../src/calls/outcome.js';
import { HeraldError } from '../../src/errors.js';
import { BinaryWire } from '../../src/ws/binaryWire.js';
import { envelopeOf, Wire } from '../../src/ws/wire.js';

/**
 * A MessagePack connection's frames are built as values and packed once
 * (BinaryWire); they must be the very messages the JSON frames carry, bytes
 * as `bin`: the JSON frame, parsed and packed with `packMessage`, decodes
 * to the same thing, and the transformer reads the same values back.
 */

const router = initTRPC.create({ transformer }).router({});
const wire = new Wire(router);
const binaryWire = new BinaryWire(router);
const envelopes = [envelopeOf(1, undefined), envelopeOf('req-7', '2.0'), envelopeOf(null, undefined)];

const values: [string, unknown][] = [
  ['plain JSON', { text: 'hi', n: 3, list: [1, 'a', null] }],
  ['a string', 'hello'],
  ['bytes', new Uint8Array([0, 1, 2, 250, 255])],
  ['bytes inside', { image: { alt: 'cat', bytes: new Uint8Array(300).fill(7) }, at: new Date(1_700_000_000_000) }],
  ['superjson types', { when: new Date(0), map: new Map([['k', 1n]]), set: new Set(['x']), none: undefined }],
  ['bytes twice', (() => { const b = new Uint8Array([9, 9]); return [b, b]; })()],
];

/** What a JSON frame becomes on a MessagePack connection when its text is read and packed. */
function viaJson(text: string): unknown {
  return unpackMessage(packMessage(JSON.parse(text)));
}

describe('BinaryWire', () => {
  for (const envelope of envelopes) {
    it.each(values)(`data frames of %s under ${envelope} are the JSON frame's message`, (_name, value) => {
      const frame = binaryWire.data(envelope, value);
      const decoded = unpackMessage(frame) as { result: { data: unknown } };
      expect(decoded).toEqual(viaJson(wire.data(envelope, value)));
      expect(transformer.deserialize(decoded.result.data as never)).toEqual(value);
    });

    it.each(values)(`tracked frames of %s under ${envelope} are the JSON frame's message`, (_name, value) => {
      const decoded = unpackMessage(binaryWire.tracked(envelope, '17-0', value)) as { result: { data: unknown } };
      expect(decoded).toEqual(viaJson(wire.tracked(envelope, '17-0', value)));
      expect(transformer.deserialize(decoded.result.data as never)).toEqual({ id: '17-0', data: value });
    });
  }

  it('carries bytes as bin, not as base64 text', () => {
    const payload = new Uint8Array(64 * 1024).fill(1);
    const frame = binaryWire.data(envelopeOf(1, undefined), { payload });
    expect(frame.length).toBeLessThan(payload.length + 100);
    expect((unpackMessage(frame) as { result: { data: { json: { payload: unknown } } } }).result.data.json.payload).toBeInstanceOf(Uint8Array);
  });

  it('writes markers, started, stopped, errors, reconnect, session notices and stored outcomes as the JSON frames do', () => {
    const envelope = envelopeOf(3, '2.0');
    const marker = { type: 'live', replayed: 2 } as const;
    expect(unpackMessage(binaryWire.marker(envelope, '5-1', marker))).toEqual(viaJson(wire.marker(envelope, '5-1', marker)));
    expect(unpackMessage(binaryWire.started(envelope))).toEqual(viaJson(wire.started(envelope)));
    expect(unpackMessage(binaryWire.stopped(envelope))).toEqual(viaJson(wire.stopped(envelope)));
    const error = new TRPCError({ code: 'BAD_REQUEST', message: 'Send a smaller image' });
    const unexpected = (cause: unknown) => expect.fail(`formatter failed: ${String(cause)}`);
    const packedError = unpackMessage(binaryWire.error(envelope, error, UNKNOWN_CONTEXT, unexpected)) as { error: { json: { stack?: unknown } } };
    const jsonError = viaJson(wire.error(envelope, error, UNKNOWN_CONTEXT, unexpected)) as { error: { json: { stack?: unknown } } };
    // The stack traces differ only by the line each frame was built on.
    delete packedError.error.json.stack;
    delete jsonError.error.json.stack;
    expect(packedError).toEqual(jsonError);
    expect(unpackMessage(binaryWire.reconnect())).toEqual(viaJson(wire.reconnect()));
    const refused = new HeraldError('UNAUTHORIZED', 'token revoked');
    expect(unpackMessage(binaryWire.session(1_000, refused))).toEqual(viaJson(wire.session(1_000, refused)));
    expect(unpackMessage(binaryWire.session(null, null))).toEqual(viaJson(wire.session(null, null)));
    const stored = wire.dataBody({ photo: new Uint8Array([1, 2, 3]) });
    expect(unpackMessage(binaryWire.withEnvelope(envelope, stored))).toEqual(viaJson(wire.withEnvelope(envelope, stored)));
  });
});
