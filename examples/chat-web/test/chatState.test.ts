import { describe, expect, it } from 'vitest';
import { bannerFor } from '../src/lib/banner.js';
import { chatReducer, initialChatState, logOf, type ChatAction, type ChatState } from '../src/lib/chatState.js';
import { emptyLog, mergeMessages } from '../src/lib/messages.js';
import { enqueue, markFailed, markSending, nextToSend, reconcile, retry, type Outbox } from '../src/lib/outbox.js';
import { toRoomName } from '../src/lib/rooms.js';
import type { Message } from '../src/lib/types.js';

const ME = { id: 'u_me', name: 'Ann' };
const BOB = { id: 'u_bob', name: 'Bob' };
const message = (id: string, text: string, at: number, author = BOB, room = 'lobby'): Message => ({ id, room, author, text, sentAt: new Date(at) });

describe('mergeMessages', () => {
  it('keeps each message once, whatever the order and repetition', () => {
    let log = mergeMessages(emptyLog, [message('a', 'one', 1), message('b', 'two', 2)]);
    log = mergeMessages(log, [message('b', 'two', 2), message('c', 'three', 3)]);
    log = mergeMessages(log, [message('a', 'one', 1)]);
    expect(log.list.map((m) => m.id)).toEqual(['a', 'b', 'c']);
  });

  it('returns the same log when nothing is new (no re-render)', () => {
    const log = mergeMessages(emptyLog, [message('a', 'one', 1)]);
    expect(mergeMessages(log, [message('a', 'one', 1)])).toBe(log);
  });

  it('sorts older messages (history after a gap) into place, stably', () => {
    let log = mergeMessages(emptyLog, [message('live-1', 'x', 10), message('live-2', 'y', 30)]);
    log = mergeMessages(log, [message('old', 'z', 5), message('middle', 'w', 20), message('same-time', 'v', 30)]);
    expect(log.list.map((m) => m.id)).toEqual(['old', 'live-1', 'middle', 'live-2', 'same-time']);
  });

  it('drops duplicates within one batch', () => {
    const log = mergeMessages(emptyLog, [message('a', 'one', 1), message('a', 'one', 1)]);
    expect(log.list).toHaveLength(1);
  });
});

describe('outbox', () => {
  const write = (outbox: Outbox, localId: string, text: string, now = 1_000) => enqueue(outbox, { localId, room: 'lobby', text, now });

  it('holds everything while offline, then sends oldest first, one at a time', () => {
    let outbox = write(write([], 'l1', 'first'), 'l2', 'second');
    expect(nextToSend(outbox, false)).toBeNull();
    expect(nextToSend(outbox, true)?.localId).toBe('l1');
    outbox = markSending(outbox, 'l1', 2_000);
    expect(nextToSend(outbox, true)).toBeNull(); // l1 in flight: l2 waits, so order is kept
  });

  it('marks a failed send failed; retry queues it again', () => {
    let outbox = markSending(write([], 'l1', 'hi'), 'l1', 2_000);
    outbox = markFailed(outbox, 'l1', 'Not sent: the connection dropped.');
    expect(outbox[0]).toMatchObject({ status: 'failed', error: 'Not sent: the connection dropped.', firstAttemptAt: 2_000 });
    expect(nextToSend(outbox, true)).toBeNull(); // never retried on its own: the server may have it
    outbox = retry(outbox, 'l1');
    expect(outbox[0]).toMatchObject({ status: 'queued', error: null, firstAttemptAt: 2_000 });
  });

  it('settles an attempted entry when its message shows up (the reply was lost, the message was not)', () => {
    let outbox = markFailed(markSending(write([], 'l1', 'hi', 1_000), 'l1', 2_000), 'l1', 'x');
    outbox = write(outbox, 'l2', 'hi', 3_000); // same text, not attempted yet
    const after = reconcile(outbox, [message('m1', 'hi', 2_100, ME)], ME.id);
    expect(after.map((entry) => entry.localId)).toEqual(['l2']);
  });

  it('does not settle entries from other people, other texts, queued entries, or much older messages', () => {
    const outbox = markSending(write([], 'l1', 'hi', 1_000), 'l1', 10 * 60_000);
    expect(reconcile(outbox, [message('m1', 'hi', 10 * 60_000, BOB)], ME.id)).toBe(outbox);
    expect(reconcile(outbox, [message('m1', 'hello', 10 * 60_000, ME)], ME.id)).toBe(outbox);
    expect(reconcile(outbox, [message('m1', 'hi', 60_000, ME)], ME.id)).toBe(outbox); // from before the attempt
    const queued = write([], 'l1', 'hi');
    expect(reconcile(queued, [message('m1', 'hi', 5_000, ME)], ME.id)).toBe(queued);
  });
});

describe('chatReducer', () => {
  const run = (actions: ChatAction[]): ChatState => actions.reduce(chatReducer, initialChatState(ME.id));
  const shown = (state: ChatState) => [...logOf(state, 'lobby').list.map((m) => m.text), ...state.outbox.map((e) => `${e.text} (${e.status})`)];

  it('shows a sent message once whether the reply or the live event comes first', () => {
    const mine = message('m1', 'hello', 2_000, ME);
    const base: ChatAction[] = [
      { type: 'write', localId: 'l1', room: 'lobby', text: 'hello', now: 1_000 },
      { type: 'sending', localId: 'l1', now: 1_500 },
    ];
    const replyFirst = run([...base, { type: 'sent', localId: 'l1', message: mine }, { type: 'received', room: 'lobby', messages: [mine] }]);
    const eventFirst = run([...base, { type: 'received', room: 'lobby', messages: [mine] }, { type: 'sent', localId: 'l1', message: mine }]);
    expect(shown(replyFirst)).toEqual(['hello']);
    expect(shown(eventFirst)).toEqual(['hello']);
  });

  it('while sending, the live event settles the entry at once (no double for a moment)', () => {
    const mine = message('m1', 'hello', 2_000, ME);
    const state = run([
      { type: 'write', localId: 'l1', room: 'lobby', text: 'hello', now: 1_000 },
      { type: 'sending', localId: 'l1', now: 1_500 },
      { type: 'received', room: 'lobby', messages: [mine] },
    ]);
    expect(shown(state)).toEqual(['hello']);
  });

  it('a history refetch repeating an old identical message does not settle a new send', () => {
    const old = message('m0', 'ok', 1_000, ME);
    const state = run([
      { type: 'received', room: 'lobby', messages: [old] },
      { type: 'write', localId: 'l1', room: 'lobby', text: 'ok', now: 5_000 },
      { type: 'sending', localId: 'l1', now: 5_000 },
      { type: 'received', room: 'lobby', messages: [old] },
    ]);
    expect(shown(state)).toEqual(['ok', 'ok (sending)']);
  });

  it('keeps what it had across a server restart (a gap), adding the refetched history', () => {
    const state = run([
      { type: 'received', room: 'lobby', messages: [message('a', 'before', 1_000)] },
      { type: 'received', room: 'lobby', messages: [message('b', 'after restart', 5_000)] },
      { type: 'received', room: 'lobby', messages: [message('b', 'after restart', 5_000)] },
    ]);
    expect(shown(state)).toEqual(['before', 'after restart']);
  });
});

describe('toRoomName', () => {
  it('turns what people type into the server’s room names', () => {
    expect(toRoomName('Design Review')).toBe('design-review');
    expect(toRoomName('  team_sync!! ')).toBe('team-sync');
    expect(toRoomName('---')).toBeNull();
    expect(toRoomName('💬')).toBeNull();
    expect(toRoomName('x'.repeat(80))).toHaveLength(64);
  });
});

describe('bannerFor', () => {
  it('says connecting, reconnecting (with the attempt), offline, and connected again', () => {
    expect(bannerFor({ status: 'connecting', url: null }, true, false)?.text).toBe('Connecting…');
    expect(bannerFor({ status: 'reconnecting', attempt: 1, error: null, closeCode: null }, true, false)?.text).toMatch(/^Reconnecting…/);
    expect(bannerFor({ status: 'reconnecting', attempt: 3, error: null, closeCode: null }, true, false)?.text).toMatch(/\(attempt 3\)/);
    expect(bannerFor({ status: 'open', url: 'ws://x/ws', transport: 'websocket' }, false, false)?.kind).toBe('offline');
    expect(bannerFor({ status: 'closed' }, true, false)?.kind).toBe('offline');
    expect(bannerFor({ status: 'open', url: 'ws://x/ws', transport: 'websocket' }, true, false)).toBeNull();
    expect(bannerFor({ status: 'open', url: 'ws://x/ws', transport: 'websocket' }, true, true)?.text).toBe('Connected again.');
  });
});
