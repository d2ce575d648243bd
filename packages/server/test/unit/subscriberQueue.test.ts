import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SubscriberQueue } from '../../src/channels/subscriberQueue.js';

/** Whether `promise` has settled once pending callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await vi.advanceTimersByTimeAsync(0);
  return done;
}

describe('SubscriberQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands out what was pushed, in order, and is empty after a drain', () => {
    const queue = new SubscriberQueue<number>(10);
    for (const n of [1, 2, 3]) queue.push(n);
    expect(queue.size).toBe(3);
    expect(queue.drain()).toEqual([1, 2, 3]);
    expect(queue.size).toBe(0);
    expect(queue.drain()).toEqual([]);
    queue.push(4);
    expect(queue.drain()).toEqual([4]);
  });

  it('on overflow drops the backlog, refuses pushes until the consumer takes the resync, then queues again', () => {
    const queue = new SubscriberQueue<number>(3);
    for (const n of [1, 2, 3]) queue.push(n);
    expect(queue.takeResync()).toBe(false);
    queue.push(4); // one past capacity
    expect(queue.size).toBe(0);
    queue.push(5); // refused: the consumer must resync from history first
    expect(queue.drain()).toEqual([]);
    expect(queue.takeResync()).toBe(true);
    expect(queue.takeResync()).toBe(false); // once
    queue.push(6);
    expect(queue.drain()).toEqual([6]);
  });

  it('holds exactly `capacity` items before it overflows', () => {
    const queue = new SubscriberQueue<number>(2);
    queue.push(1);
    queue.push(2);
    expect(queue.takeResync()).toBe(false);
    expect(queue.drain()).toEqual([1, 2]);
    // Draining frees the room again.
    queue.push(3);
    queue.push(4);
    expect(queue.takeResync()).toBe(false);
    expect(queue.size).toBe(2);
  });

  it('requestResync drops the backlog and asks for a resync (a broker interruption)', () => {
    const queue = new SubscriberQueue<string>(10);
    queue.push('a');
    queue.requestResync();
    expect(queue.size).toBe(0);
    expect(queue.takeResync()).toBe(true);
  });

  it('wait() resolves at once when something is queued, a resync is due, or the signal aborted', async () => {
    const queue = new SubscriberQueue<number>(10);
    queue.push(1);
    expect(await settled(queue.wait(new AbortController().signal))).toBe(true);
    queue.drain();

    queue.requestResync();
    expect(await settled(queue.wait(new AbortController().signal))).toBe(true);
    queue.takeResync();

    const aborted = new AbortController();
    aborted.abort();
    expect(await settled(queue.wait(aborted.signal))).toBe(true);
  });

  it('wait() resolves on the next push, on overflow, or on abort, and not before', async () => {
    const queue = new SubscriberQueue<number>(1);

    const forPush = queue.wait(new AbortController().signal);
    expect(await settled(forPush)).toBe(false);
    await vi.advanceTimersByTimeAsync(60_000); // time alone wakes nothing
    expect(await settled(forPush)).toBe(false);
    queue.push(1);
    expect(await settled(forPush)).toBe(true);

    const controller = new AbortController();
    queue.drain();
    const forAbort = queue.wait(controller.signal);
    expect(await settled(forAbort)).toBe(false);
    controller.abort();
    expect(await settled(forAbort)).toBe(true);

    queue.push(2);
    queue.drain();
    const forOverflow = queue.wait(new AbortController().signal);
    queue.push(3);
    expect(await settled(forOverflow)).toBe(true);
    queue.drain();
    const overflowWait = queue.wait(new AbortController().signal);
    queue.push(4); // past capacity 1: 3 was drained, so this one fits
    expect(await settled(overflowWait)).toBe(true);
    queue.push(5); // now it overflows
    expect(queue.takeResync()).toBe(true);
  });
});
