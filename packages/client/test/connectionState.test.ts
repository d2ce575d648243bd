import { afterEach, describe, expect, it, vi } from 'vitest';
import { CloseCode, type ConnectionState } from '@herald/client';
import { ConnectionStateMachine } from '../src/connection/connectionState.js';

type Transition = [next: ConnectionState, previous: ConnectionState];

function recorded(machine: ConnectionStateMachine): Transition[] {
  const transitions: Transition[] = [];
  machine.subscribe((next, previous) => transitions.push([next, previous]));
  return transitions;
}

const open = (url = 'ws://a/ws'): ConnectionState => ({ status: 'open', url, transport: 'websocket' });
const reconnecting = (attempt: number, error: Error | null = null): ConnectionState => ({ status: 'reconnecting', attempt, error, closeCode: null });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ConnectionStateMachine', () => {
  it('starts connecting, with no URL yet', () => {
    expect(new ConnectionStateMachine().current).toEqual({ status: 'connecting', url: null });
  });

  it('calls listeners with (next, previous) on every change, not with the current value', () => {
    const machine = new ConnectionStateMachine();
    const transitions = recorded(machine);
    expect(transitions).toEqual([]);

    machine.set(open());
    machine.set(reconnecting(1));
    machine.set(open());
    expect(transitions).toEqual([
      [open(), { status: 'connecting', url: null }],
      [reconnecting(1), open()],
      [open(), reconnecting(1)],
    ]);
    expect(machine.current).toEqual(open());
  });

  it('ignores moves to an equal state', () => {
    const machine = new ConnectionStateMachine();
    const transitions = recorded(machine);
    machine.set({ status: 'connecting', url: null });
    machine.set(open());
    machine.set(open());
    machine.set(reconnecting(1, new Error('first')));
    machine.set(reconnecting(1, new Error('same attempt, other error')));
    machine.set(reconnecting(2));
    expect(transitions.map(([next]) => next)).toEqual([open(), reconnecting(1, new Error('first')), reconnecting(2)]);
    expect(machine.current).toEqual(reconnecting(2));
  });

  it('treats the same status with another URL as a change', () => {
    const machine = new ConnectionStateMachine();
    const transitions = recorded(machine);
    machine.set(open('ws://a/ws'));
    machine.set(open('ws://b/ws'));
    machine.set({ status: 'connecting', url: 'ws://b/ws' });
    expect(transitions.map(([next, previous]) => [next.status, previous.status])).toEqual([
      ['open', 'connecting'],
      ['open', 'open'],
      ['connecting', 'open'],
    ]);
  });

  it('stays closed once closed', () => {
    const machine = new ConnectionStateMachine();
    const transitions = recorded(machine);
    machine.set(open());
    machine.set({ status: 'closed' });
    machine.set(open());
    machine.set(reconnecting(1));
    machine.set({ status: 'closed' });
    expect(machine.current).toEqual({ status: 'closed' });
    expect(transitions.map(([next]) => next.status)).toEqual(['open', 'closed']);
  });

  it('leaves a closed state that carries a refusal only when asked, and close() after it is final', () => {
    const machine = new ConnectionStateMachine();
    const transitions = recorded(machine);
    const refused: ConnectionState = { status: 'closed', refusal: { closeCode: CloseCode.UNAUTHORIZED, httpStatus: null, error: new Error('refused') } };
    machine.set(open());
    machine.set(refused);
    machine.set(refused);
    machine.set({ status: 'connecting', url: null });
    machine.set(refused);
    machine.set({ status: 'closed' });
    machine.set(open());
    expect(transitions.map(([next]) => next)).toEqual([open(), refused, { status: 'connecting', url: null }, refused, { status: 'closed' }]);
    expect(machine.current).toEqual({ status: 'closed' });
  });

  it('stops calling a listener once it unsubscribes', () => {
    const machine = new ConnectionStateMachine();
    const listener = vi.fn();
    const unsubscribe = machine.subscribe(listener);
    machine.set(open());
    unsubscribe();
    unsubscribe();
    machine.set(reconnecting(1));
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('keeps calling the other listeners when one throws, and rethrows its error in a microtask', () => {
    // Capture the rethrow instead of letting it reach the process (and the test runner) as an uncaught exception.
    const deferred: (() => void)[] = [];
    vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
      deferred.push(callback);
    });
    const machine = new ConnectionStateMachine();
    const boom = new Error('listener bug');
    const before = vi.fn();
    const after = vi.fn();
    machine.subscribe(before);
    machine.subscribe(() => {
      throw boom;
    });
    machine.subscribe(after);

    expect(() => machine.set(open())).not.toThrow();
    expect(before).toHaveBeenCalledWith(open(), { status: 'connecting', url: null });
    expect(after).toHaveBeenCalledWith(open(), { status: 'connecting', url: null });
    expect(machine.current).toEqual(open());

    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]?.()).toThrow(boom);

    // The machine still works afterwards.
    machine.set(reconnecting(1));
    expect(after).toHaveBeenCalledTimes(2);
  });

  it('lets a listener unsubscribe another during a change without skipping the rest of this round', () => {
    const machine = new ConnectionStateMachine();
    const second = vi.fn();
    let unsubscribeSecond = () => {};
    machine.subscribe(() => unsubscribeSecond());
    unsubscribeSecond = machine.subscribe(second);
    machine.set(open());
    machine.set(reconnecting(1));
    // Listeners are snapshotted per change: removed during the first, it still heard that one, not the next.
    expect(second).toHaveBeenCalledTimes(1);
  });
});
