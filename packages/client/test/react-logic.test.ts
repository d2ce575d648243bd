import { describe, expect, it } from 'vitest';
import type { PresenceMember } from '@herald/client';
import { channelReducer, presenceReducer, sortMembers, type PresenceMap } from '@herald/client/react';
import { statusAfterConnectionChange, type StatusState } from '../src/react/subscription.js';

interface Info {
  name: string;
}
const member = (clientId: string, joinedAt: number, name = clientId): PresenceMember<Info> => ({ clientId, joinedAt, info: { name } });
const empty: PresenceMap<Info> = new Map();

describe('presenceReducer', () => {
  it('replaces everything with a snapshot (sent on every (re)subscribe)', () => {
    const before = presenceReducer(empty, { type: 'snapshot', members: [member('a', 1), member('b', 2)] });
    const after = presenceReducer(before, { type: 'snapshot', members: [member('c', 3)] });
    expect([...before.keys()]).toEqual(['a', 'b']);
    expect([...after.keys()]).toEqual(['c']);
  });

  it('adds on join and removes on leave, keyed by clientId', () => {
    let members = presenceReducer(empty, { type: 'snapshot', members: [member('a', 1)] });
    members = presenceReducer(members, { type: 'join', member: member('b', 2) });
    expect(sortMembers(members).map((m) => m.clientId)).toEqual(['a', 'b']);
    members = presenceReducer(members, { type: 'leave', clientId: 'a' });
    expect(sortMembers(members).map((m) => m.clientId)).toEqual(['b']);
  });

  it('is idempotent: a change racing the snapshot may arrive twice', () => {
    const snapshot = presenceReducer(empty, { type: 'snapshot', members: [member('a', 1), member('b', 2)] });
    const joinedAgain = presenceReducer(snapshot, { type: 'join', member: member('b', 2) });
    expect(sortMembers(joinedAgain)).toEqual(sortMembers(snapshot));

    const left = presenceReducer(snapshot, { type: 'leave', clientId: 'b' });
    const leftAgain = presenceReducer(left, { type: 'leave', clientId: 'b' });
    expect(leftAgain).toBe(left); // unchanged: the same map, so React skips a render
  });

  it('keeps one entry per connection (clientId), even for the same person', () => {
    const members = presenceReducer(empty, {
      type: 'snapshot',
      members: [member('tab-1', 1, 'ann'), member('tab-2', 2, 'ann')],
    });
    expect(members.size).toBe(2);
    const rejoined = presenceReducer(members, { type: 'join', member: member('tab-1', 5, 'ann') });
    expect(rejoined.size).toBe(2);
    expect(rejoined.get('tab-1')?.joinedAt).toBe(5);
  });

  it('does not mutate the previous state', () => {
    const before = presenceReducer(empty, { type: 'snapshot', members: [member('a', 1)] });
    presenceReducer(before, { type: 'join', member: member('b', 2) });
    presenceReducer(before, { type: 'leave', clientId: 'a' });
    expect([...before.keys()]).toEqual(['a']);
  });
});

describe('sortMembers', () => {
  it('orders by join time, ties by clientId', () => {
    const members = presenceReducer(empty, { type: 'snapshot', members: [member('c', 2), member('b', 1), member('a', 2)] });
    expect(sortMembers(members).map((m) => m.clientId)).toEqual(['b', 'a', 'c']);
  });
});

describe('channelReducer', () => {
  const start = { status: 'connecting', error: null, lastEventId: null, lastGap: null, received: 0 } as const;

  it('goes live on the live marker and tracks the last position', () => {
    let state = channelReducer(start, { id: '1-0', data: { type: 'message', message: 'a' } }, 0);
    expect(state).toMatchObject({ status: 'connecting', lastEventId: '1-0', received: 1 });
    state = channelReducer(state, { id: '1-0', data: { type: 'live', replayed: 1 } }, 0);
    expect(state).toMatchObject({ status: 'live', lastEventId: '1-0', received: 1 });
    state = channelReducer(state, { id: '2-0', data: { type: 'message', message: 'b' } }, 0);
    expect(state).toMatchObject({ status: 'live', lastEventId: '2-0', received: 2 });
  });

  it('records a gap notice with its reason and when it came', () => {
    const state = channelReducer({ ...start, status: 'reconnecting' }, { id: '9-0', data: { type: 'gap', reason: 'reset' } }, 1234);
    expect(state.lastGap).toEqual({ reason: 'reset', id: '9-0', receivedAt: 1234 });
    expect(state.status).toBe('reconnecting'); // the live marker that follows makes it live
  });
});

describe('statusAfterConnectionChange', () => {
  const at = (status: StatusState<Error>['status']): StatusState<Error> => ({ status, error: null });

  it('turns a live subscription into reconnecting when its socket drops', () => {
    expect(statusAfterConnectionChange(at('live'), { state: 'connecting', error: new Error('closed') }).status).toBe('reconnecting');
    expect(statusAfterConnectionChange(at('reconnecting'), { state: 'connecting' }).status).toBe('reconnecting');
  });

  it('stays connecting before the first live marker, and ignores open/idle (the live marker decides)', () => {
    expect(statusAfterConnectionChange(at('connecting'), { state: 'connecting' }).status).toBe('connecting');
    const live = at('live');
    expect(statusAfterConnectionChange(live, { state: 'pending' })).toBe(live);
    expect(statusAfterConnectionChange(live, { state: 'idle' })).toBe(live);
  });
});
