import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { transformer } from '@herald/shared';
import { parseError } from '../../src/errors.js';
import { RequestTracker, type CallObserver, type CallRequest, type TrackerSettings } from '../../src/calls/requestTracker.js';
import type { CallEvent, OutgoingCall, Session } from '../../src/sessions/session.js';

/**
 * The tracker's side of a session: what it was asked to send and to stop.
 * `Session` is the seam the tracker is built against; the real WebSocket and
 * HTTP sessions carry these calls end to end in the protocol and fallback suites.
 */
class RecordingSession implements Session {
  readonly transport = 'websocket' as const;
  isReady = true;
  readonly sent: OutgoingCall[] = [];
  readonly stopped: number[] = [];
  constructor(readonly url: string) {}
  startCall(call: OutgoingCall): boolean {
    if (!this.isReady) return false;
    this.sent.push(call);
    return true;
  }
  stopCall(id: number): void {
    this.stopped.push(id);
  }
  refreshCredentials(): void {
    // The tracker never refreshes credentials; `CredentialRefresh` does.
  }
  close(): void {
    this.isReady = false;
  }
}

/** What the app's side of one call saw. */
class Observed implements CallObserver {
  readonly data: unknown[] = [];
  readonly errors: TRPCClientError<AnyRouter>[] = [];
  started = 0;
  completed = 0;
  next(result: { type: 'started' } | { type: 'data'; id?: string; data: unknown }): void {
    if (result.type === 'started') this.started++;
    else this.data.push(result.id === undefined ? result.data : { id: result.id, data: result.data });
  }
  error(error: TRPCClientError<AnyRouter>): void {
    this.errors.push(error);
  }
  complete(): void {
    this.completed++;
  }
  /** The `heraldCode` of every error, in order. */
  codes(): unknown[] {
    return this.errors.map((error) => (error.data as { heraldCode?: unknown } | undefined)?.heraldCode);
  }
}

const query = (path = 'q', input?: unknown): CallRequest => ({ type: 'query', path, input });
const mutation = (path = 'm', input?: unknown): CallRequest => ({ type: 'mutation', path, input });
const subscription = (path = 's', lastEventId?: string): CallRequest => ({ type: 'subscription', path, input: undefined, lastEventId });

/** A call's data event, as a session reports it once decoded (frames.ts decodes the wire). */
const answer = (data: unknown, trackedId?: string): CallEvent => (trackedId ? { type: 'data', id: trackedId, data } : { type: 'data', data });
const started: CallEvent = { type: 'started' };

describe('RequestTracker', () => {
  let keys: number;
  let tracker: RequestTracker;
  /** What the tracker reported through `onError`. */
  let unowned: TRPCClientError<AnyRouter>[];
  const make = (settings: Partial<TrackerSettings> = {}) => {
    tracker = new RequestTracker({ maxQueued: 10, maxQueuedAgeMs: 1_000, callTimeoutMs: null, retryMutations: true, newKey: () => `key-${++keys}`, onError: (error) => unowned.push(error), tracing: null, ...settings });
    return tracker;
  };
  beforeEach(() => {
    vi.useFakeTimers();
    keys = 0;
    unowned = [];
  });
  afterEach(() => {
    tracker?.close();
    vi.useRealTimers();
  });

  it('sends at once on a ready session, and hands the answer to the caller', () => {
    make();
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    const observed = new Observed();
    tracker.start(query('add', { a: 1 }), observed);
    expect(session.sent).toEqual([
      expect.objectContaining({ id: 1, type: 'query', path: 'add', inputJson: JSON.stringify(transformer.serialize({ a: 1 })), idempotencyKey: undefined }),
    ]);
    tracker.onEvent(session, 1, answer(2));
    expect(observed).toMatchObject({ data: [2], completed: 1, errors: [] });
  });

  it('writes the input as the transformer would, once: a resend carries the same text whatever the app did to its input since', () => {
    make();
    const first = new RecordingSession('ws://a');
    tracker.onSession(first);
    const plain = { id: 1, tags: ['a'], ok: true, none: null };
    const rich = { at: new Date(5), missing: undefined, n: -0 };
    const shared = { k: 1 };
    tracker.start(mutation('m', plain), new Observed());
    tracker.start(query('q', rich), new Observed());
    tracker.start(query('q', { one: shared, two: shared }), new Observed());
    tracker.start(query('q'), new Observed());
    const expected = [plain, rich, { one: shared, two: shared }, undefined].map((input) => JSON.stringify(transformer.serialize(input)));
    expect(first.sent.map((call) => call.inputJson)).toEqual(expected);
    plain.tags.push('changed');
    rich.at.setTime(6);
    tracker.onSessionLost(first, true);
    const second = new RecordingSession('ws://b');
    tracker.onSession(second);
    expect(second.sent.map((call) => call.inputJson)).toEqual(expected);
  });

  it('fails a call with OFFLINE_QUEUE_FULL when maxQueued calls already wait for a connection', () => {
    make({ maxQueued: 2 });
    const waiting = [new Observed(), new Observed()];
    for (const observed of waiting) tracker.start(query(), observed);
    const refused = new Observed();
    tracker.start(mutation(), refused);
    expect(refused.codes()).toEqual(['OFFLINE_QUEUE_FULL']);
    expect(refused.errors[0]?.data).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(waiting.map((observed) => observed.errors)).toEqual([[], []]);

    // Online, the bound does not apply, and the queued calls go out first.
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    const online = new Observed();
    tracker.start(query('later'), online);
    expect(online.errors).toEqual([]);
    expect(session.sent.map((call) => call.id)).toEqual([1, 2, 3]);
  });

  it('fails a query or mutation with OFFLINE_TIMEOUT after maxQueuedAgeMs without a connection; a subscription waits on', () => {
    make({ maxQueuedAgeMs: 1_000 });
    const q = new Observed();
    const m = new Observed();
    const s = new Observed();
    tracker.start(query(), q);
    tracker.start(mutation(), m);
    tracker.start(subscription(), s);
    vi.advanceTimersByTime(999);
    expect([q.errors, m.errors]).toEqual([[], []]);
    // The sweep runs every quarter of the bound.
    vi.advanceTimersByTime(251);
    expect(q.codes()).toEqual(['OFFLINE_TIMEOUT']);
    expect(m.codes()).toEqual(['OFFLINE_TIMEOUT']);
    expect(q.errors[0]?.data).toMatchObject({ code: 'TIMEOUT' });
    vi.advanceTimersByTime(60_000);
    expect(s).toMatchObject({ errors: [], completed: 0 });

    // Only the subscription is sent once a session comes.
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    expect(session.sent.map((call) => call.type)).toEqual(['subscription']);
  });

  it('counts the offline age from when the connection was lost, not from when the call started; a call that was sent fails with OUTCOME_UNKNOWN', () => {
    make({ maxQueuedAgeMs: 1_000 });
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    const q = new Observed();
    tracker.start(query(), q);
    vi.advanceTimersByTime(5_000); // in flight, unanswered, no callTimeoutMs: no timeout applies
    expect(q.errors).toEqual([]);
    tracker.onSessionLost(session, true);
    vi.advanceTimersByTime(900);
    expect(q.errors).toEqual([]);
    vi.advanceTimersByTime(400);
    expect(q.codes()).toEqual(['OUTCOME_UNKNOWN']);
    expect(q.errors[0]?.message).toMatch(/query was sent, then its connection was lost.*can simply be retried/);
  });

  it('OFFLINE_TIMEOUT only for a mutation never sent; one sent whose socket was lost fails with OUTCOME_UNKNOWN and its key', () => {
    make({ maxQueuedAgeMs: 1_000 });
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    const sent = new Observed();
    tracker.start(mutation('send'), sent);
    tracker.onSessionLost(session, true);
    const neverSent = new Observed();
    tracker.start(mutation('send'), neverSent);
    vi.advanceTimersByTime(1_250);
    expect(neverSent.codes()).toEqual(['OFFLINE_TIMEOUT']);
    expect(neverSent.errors[0]?.message).toMatch(/mutation was never sent/);
    expect(sent.codes()).toEqual(['OUTCOME_UNKNOWN']);
    expect(sent.errors[0]?.data).toMatchObject({ code: 'TIMEOUT', idempotencyKey: 'key-1' });
    expect(sent.errors[0]?.message).toMatch(/may or may not have run: retry it with the same idempotency key/);
  });

  it('callTimeoutMs: a call unanswered that long after its first send fails with OUTCOME_UNKNOWN and is stopped; the bound holds across a resend', () => {
    make({ maxQueuedAgeMs: 10_000, callTimeoutMs: 1_000 });
    const first = new RecordingSession('ws://a');
    tracker.onSession(first);
    const m = new Observed();
    const answered = new Observed();
    const s = new Observed();
    tracker.start(mutation('send'), m);
    tracker.start(query(), answered);
    tracker.start(subscription(), s);
    vi.advanceTimersByTime(600);
    tracker.onEvent(first, 2, answer('fine'));
    // Lost and resent on a new session: the bound still counts from the first send.
    tracker.onSessionLost(first, true);
    const second = new RecordingSession('ws://b');
    tracker.onSession(second);
    expect(second.sent.map((call) => call.id)).toEqual([1, 3]);
    vi.advanceTimersByTime(399);
    expect(m.errors).toEqual([]);
    // The sweep runs every quarter of the shorter bound.
    vi.advanceTimersByTime(251);
    expect(m.codes()).toEqual(['OUTCOME_UNKNOWN']);
    expect(m.errors[0]?.data).toMatchObject({ idempotencyKey: 'key-1' });
    expect(m.errors[0]?.message).toMatch(/got no answer \(callTimeoutMs is 1000\)/);
    expect(second.stopped).toEqual([1]);
    expect(answered).toMatchObject({ data: ['fine'], errors: [] });
    vi.advanceTimersByTime(60_000);
    expect(s).toMatchObject({ errors: [], completed: 0 });
    // A call that waits offline is not timed out by callTimeoutMs before it is sent.
    tracker.onSessionLost(second, true);
    const waiting = new Observed();
    tracker.start(query(), waiting);
    vi.advanceTimersByTime(5_000);
    expect(waiting.errors).toEqual([]);
  });

  it('fails an in-flight mutation with CONNECTION_LOST when retryMutations is off, and resends queries', () => {
    make({ retryMutations: false });
    const first = new RecordingSession('ws://a');
    tracker.onSession(first);
    const m = new Observed();
    const q = new Observed();
    tracker.start(mutation(), m);
    tracker.start(query(), q);
    tracker.onSessionLost(first, true);
    expect(m.codes()).toEqual(['CONNECTION_LOST']);
    expect(m.errors[0]?.data).toMatchObject({ code: 'CLIENT_CLOSED_REQUEST' });
    expect(q.errors).toEqual([]);

    const second = new RecordingSession('ws://b');
    tracker.onSession(second);
    expect(second.sent.map((call) => call.type)).toEqual(['query']);
  });

  it('resends an in-flight mutation on the next session with the same id and idempotency key, and answers once', () => {
    make({ retryMutations: true });
    const first = new RecordingSession('ws://a');
    tracker.onSession(first);
    const m = new Observed();
    tracker.start(mutation('send', { text: 'hi' }), m);
    const [sentFirst] = first.sent;
    expect(sentFirst?.idempotencyKey).toBe('key-1');

    tracker.onSessionLost(first, true);
    expect(m.errors).toEqual([]);
    const second = new RecordingSession('ws://b');
    tracker.onSession(second);
    const [resent] = second.sent;
    expect(resent).toMatchObject({ id: sentFirst?.id, idempotencyKey: 'key-1', path: 'send', input: { text: 'hi' } });
    expect(keys).toBe(1); // no second key was made

    // A late answer on the lost session is ignored; the one on the current session counts, once.
    tracker.onEvent(first, resent?.id as number, answer('stale'));
    expect(m.data).toEqual([]);
    tracker.onEvent(second, resent?.id as number, answer('sent'));
    tracker.onEvent(second, resent?.id as number, answer('again'));
    expect(m).toMatchObject({ data: ['sent'], completed: 1, errors: [] });
  });

  it('gives every mutation a key of its own, and queries none', () => {
    make();
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    tracker.start(mutation(), new Observed());
    tracker.start(mutation(), new Observed());
    tracker.start(query(), new Observed());
    expect(session.sent.map((call) => call.idempotencyKey)).toEqual(['key-1', 'key-2', undefined]);
  });

  it('resubscribes on the next session from the last tracked id it delivered, without a second `started`', () => {
    make();
    const first = new RecordingSession('ws://a');
    tracker.onSession(first);
    const s = new Observed();
    tracker.start(subscription('numbers', '1-0'), s);
    expect(first.sent[0]?.lastEventId).toBe('1-0');
    tracker.onEvent(first, 1, started);
    tracker.onEvent(first, 1, answer({ n: 1 }, '2-0'));
    tracker.onEvent(first, 1, answer({ n: 2 }, '3-0'));

    tracker.onSessionLost(first, true);
    const second = new RecordingSession('ws://b');
    tracker.onSession(second);
    expect(second.sent).toEqual([expect.objectContaining({ id: 1, type: 'subscription', lastEventId: '3-0' })]);
    tracker.onEvent(second, 1, started);
    tracker.onEvent(second, 1, answer({ n: 3 }, '4-0'));
    expect(s.started).toBe(1);
    expect(s.data).toEqual([
      { id: '2-0', data: { n: 1 } },
      { id: '3-0', data: { n: 2 } },
      { id: '4-0', data: { n: 3 } },
    ]);
  });

  it('stops a cancelled call on its session and ignores what comes for it', () => {
    make();
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    const q = new Observed();
    const cancel = tracker.start(query(), q);
    cancel();
    expect(session.stopped).toEqual([1]);
    tracker.onEvent(session, 1, answer('late'));
    expect(q).toMatchObject({ data: [], completed: 0, errors: [] });
  });

  it('fails a call with its unreadable frame, stops a subscription on the server, and reports one no call takes', () => {
    make();
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    const q = new Observed();
    const s = new Observed();
    tracker.start(query(), q);
    tracker.start(subscription(), s);
    const unreadable = (what: string): CallEvent => ({ type: 'unreadable', error: parseError(what) });
    tracker.onEvent(session, 1, unreadable('garbage'));
    tracker.onEvent(session, 2, started);
    tracker.onEvent(session, 2, unreadable('an unknown type'));
    expect(q.errors.map((error) => error.data)).toEqual([expect.objectContaining({ code: 'PARSE_ERROR' })]);
    expect(s).toMatchObject({ started: 1, completed: 0 });
    expect(s.errors.map((error) => error.message)).toEqual([expect.stringContaining('an unknown type')]);
    // The query's answer was the frame; the subscription still runs on the server.
    expect(session.stopped).toEqual([2]);
    expect(unowned).toEqual([]);

    tracker.onEvent(session, 99, unreadable('no such call'));
    tracker.onEvent(session, 98, answer('a well-formed late answer'));
    expect(unowned.map((error) => error.message)).toEqual([expect.stringContaining('no such call')]);
  });

  it('fails waiting and in-flight calls with CLIENT_CLOSED on close(), ends subscriptions, and refuses later calls', () => {
    make();
    const session = new RecordingSession('ws://a');
    tracker.onSession(session);
    const inFlight = new Observed();
    const s = new Observed();
    tracker.start(query(), inFlight);
    tracker.start(subscription(), s);
    tracker.onSessionLost(session, true);
    const waiting = new Observed();
    tracker.start(mutation(), waiting);

    tracker.close();
    expect(inFlight.codes()).toEqual(['CLIENT_CLOSED']);
    expect(waiting.codes()).toEqual(['CLIENT_CLOSED']);
    expect(s).toMatchObject({ errors: [], completed: 1 });
    expect(vi.getTimerCount()).toBe(0); // the sweep timer went with it

    const after = new Observed();
    tracker.start(query(), after);
    expect(after.codes()).toEqual(['CLIENT_CLOSED']);
    expect(after.errors[0]?.data).toMatchObject({ code: 'CLIENT_CLOSED_REQUEST' });
  });
});
