import { describe, expect, it } from 'vitest';
import { transformer } from '@herald/shared';
// Frames as a Herald server writes them (`@herald/shared`'s livePatch), fed
// to the session's patch reader; the requests it makes to resync are
// recorded through its two-method interface, so no socket is needed.
import { LivePatches } from '../../src/sessions/livePatches.js';
import type { OutgoingCall } from '../../src/sessions/session.js';

const CALL: OutgoingCall = {
  id: 1,
  type: 'subscription',
  path: 'onRooms',
  input: undefined,
  inputJson: JSON.stringify(transformer.serialize(undefined)),
  lastEventId: '5',
  idempotencyKey: undefined,
};

function setup() {
  const requests: { stop: number[]; start: OutgoingCall[] } = { stop: [], start: [] };
  const patches = new LivePatches({ stop: (id) => requests.stop.push(id), start: (call) => requests.start.push(call) });
  return { patches, requests };
}

const started = { id: 1, result: { type: 'started', livePatches: true } };
const whole = (version: string, data: unknown) => ({ id: 1, result: { type: 'data', id: version, data: transformer.serialize({ id: version, data }) } });
const patch = (version: string, base: string, operations: unknown[]) => ({ id: 1, result: { type: 'patch', id: version, base, patch: operations } });
const ROOMS = { rooms: [{ name: 'a', members: 1 }], at: new Date(1_000) };

describe('LivePatches', () => {
  it('asks for patches on subscriptions only', () => {
    const { patches } = setup();
    expect(patches.ask(CALL)).toBe(',"livePatches":true');
    expect(patches.ask({ ...CALL, id: 2, type: 'query' })).toBe('');
  });

  it('applies a patch to the base it names and revives the result as a whole one', () => {
    const { patches, requests } = setup();
    patches.ask(CALL);
    expect(patches.eventOf(1, started)).toEqual({ type: 'started' });
    expect(patches.eventOf(1, whole('6', ROOMS))).toEqual({ type: 'data', id: '6', data: { id: '6', data: ROOMS } });
    const event = patches.eventOf(
      1,
      patch('7', '6', [
        { op: 'replace', path: '/json/id', value: '7' },
        { op: 'replace', path: '/json/data/rooms/0/members', value: 2 },
        { op: 'replace', path: '/json/data/at', value: new Date(2_000).toISOString() },
      ]),
    );
    expect(event).toEqual({ type: 'data', id: '7', data: { id: '7', data: { rooms: [{ name: 'a', members: 2 }], at: new Date(2_000) } } });
    expect(requests.stop).toEqual([]);
  });

  it('never shows a patch for another base: it subscribes again without lastEventId and takes the whole result', () => {
    const { patches, requests } = setup();
    patches.ask(CALL);
    patches.eventOf(1, started);
    patches.eventOf(1, whole('6', ROOMS));
    expect(patches.eventOf(1, patch('8', '7', [{ op: 'replace', path: '/json/id', value: '8' }]))).toBeNull();
    expect(requests.stop).toEqual([1]);
    expect(requests.start).toEqual([{ ...CALL, lastEventId: undefined }]);
    // The session sends the request again through `ask`.
    patches.ask(requests.start[0]!);
    // The stopped subscription's late patch and its `stopped` are dropped.
    expect(patches.eventOf(1, patch('9', '8', []))).toBeNull();
    expect(patches.eventOf(1, { id: 1, result: { type: 'stopped' } })).toBeNull();
    patches.eventOf(1, started);
    const current = { rooms: [{ name: 'a', members: 3 }], at: new Date(3_000) };
    expect(patches.eventOf(1, whole('9', current))).toEqual({ type: 'data', id: '9', data: { id: '9', data: current } });
    // A real `stopped` after that ends the subscription as usual.
    expect(patches.eventOf(1, { id: 1, result: { type: 'stopped' } })).toEqual({ type: 'stopped' });
  });

  it('resyncs on a patch that does not apply, and never passes on an older or equal version', () => {
    const { patches, requests } = setup();
    patches.ask(CALL);
    patches.eventOf(1, started);
    patches.eventOf(1, whole('6', ROOMS));
    expect(patches.eventOf(1, patch('7', '6', [{ op: 'replace', path: '/json/data/missing/0', value: 1 }]))).toBeNull();
    expect(requests.stop).toEqual([1]);
    patches.ask(requests.start[0]!);
    patches.eventOf(1, started);
    // The whole current result is the version already shown: it becomes the base, and is not shown again.
    expect(patches.eventOf(1, whole('6', ROOMS))).toBeNull();
    expect(patches.eventOf(1, whole('5', ROOMS))).toBeNull();
    expect(patches.eventOf(1, patch('7', '6', [{ op: 'replace', path: '/json/id', value: '7' }]))).toEqual({ type: 'data', id: '7', data: { id: '7', data: ROOMS } });
  });

  it('leaves a subscription whose server does not offer patches alone', () => {
    const { patches } = setup();
    patches.ask(CALL);
    patches.eventOf(1, { id: 1, result: { type: 'started' } });
    expect(patches.eventOf(1, whole('6', ROOMS))).toEqual({ type: 'data', id: '6', data: { id: '6', data: ROOMS } });
    expect(patches.eventOf(1, whole('6', ROOMS))).toEqual({ type: 'data', id: '6', data: { id: '6', data: ROOMS } });
  });
});
