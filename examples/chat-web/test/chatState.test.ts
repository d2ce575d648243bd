import { describe, expect, it } from 'vitest';
import { bannerFor } from '../src/lib/banner.js';
import { chatReducer, initialChatState, logOf, totalUnread, unreadIn, type ChatAction, type ChatState } from '../src/lib/chatState.js';
import { CHUNK_SIZE, emptyLog, lastMessages, mergeMessages, messagesOf } from '../src/lib/messages.js';
import { toRoomName } from '../src/lib/rooms.js';
import type { Message } from '../src/lib/types.js';
import { unsentIn } from '../src/lib/unsent.js';
import type { OutboxEntry } from '@herald/client';

const ME = { id: 'u_me', name: 'Ann' };
const BOB = { id: 'u_bob', name: 'Bob' };
const message = (id: string, text: string, at: number, author = BOB, room = 'lobby'): Message => ({ id, room, author, text, sentAt: new Date(at) });

describe('mergeMessages', () => {
  it('keeps each message once, whatever the order and repetition', () => {
    let log = mergeMessages(emptyLog, [message('a', 'one', 1), message('b', 'two', 2)]);
    log = mergeMessages(log, [message('b', 'two', 2), message('c', 'three', 3)]);
    log = mergeMessages(log, [message('a', 'one', 1)]);
    expect(messagesOf(log).map((m) => m.id)).toEqual(['a', 'b', 'c']);
  });

  it('returns the same log when nothing is new (no re-render)', () => {
    const log = mergeMessages(emptyLog, [message('a', 'one', 1)]);
    expect(mergeMessages(log, [message('a', 'one', 1)])).toBe(log);
  });

  it('sorts older messages (history after a gap) into place, stably', () => {
    let log = mergeMessages(emptyLog, [message('live-1', 'x', 10), message('live-2', 'y', 30)]);
    log = mergeMessages(log, [message('old', 'z', 5), message('middle', 'w', 20), message('same-time', 'v', 30)]);
    expect(messagesOf(log).map((m) => m.id)).toEqual(['old', 'live-1', 'middle', 'live-2', 'same-time']);
  });

  it('appends a live message by copying the last chunk only, and keeps every message findable', () => {
    let log = emptyLog;
    for (let i = 0; i < CHUNK_SIZE * 3 + 5; i++) log = mergeMessages(log, [message(`m${i}`, 't', i)]);
    const before = log;
    log = mergeMessages(log, [message('new', 'n', 10_000)]);
    expect(log.chunks.slice(0, 3).every((chunk, i) => chunk === before.chunks[i])).toBe(true);
    expect(log.size).toBe(CHUNK_SIZE * 3 + 6);
    expect(mergeMessages(log, [message('m3', 't', 3)])).toBe(log);
    expect(lastMessages(log, 3).map((m) => m.id)).toEqual([`m${CHUNK_SIZE * 3 + 3}`, `m${CHUNK_SIZE * 3 + 4}`, 'new']);
  });

  it('drops duplicates within one batch', () => {
    const log = mergeMessages(emptyLog, [message('a', 'one', 1), message('a', 'one', 1)]);
    expect(messagesOf(log)).toHaveLength(1);
  });
});

describe('unsentIn', () => {
  const entry = (key: string, text: string, createdAt: number, extra: Partial<OutboxEntry> = {}): OutboxEntry => ({
    key,
    path: 'chat.send',
    input: { room: 'lobby', text },
    createdAt,
    state: 'pending',
    error: null,
    ...extra,
  });
  const texts = (entries: readonly OutboxEntry[], log = emptyLog, online = true) =>
    unsentIn(entries, 'lobby', log, ME.id, online).map((u) => `${u.text} (${u.status})`);

  it('shows pending entries of the room as queued offline and sending online, failed ones with why', () => {
    const entries = [
      entry('k1', 'first', 1_000),
      entry('k2', 'elsewhere', 1_000, { input: { room: 'other', text: 'elsewhere' } }),
      entry('k3', 'refused', 1_000, { state: 'failed', error: { message: 'too long', code: 'BAD_REQUEST', heraldCode: null } }),
      entry('k4', 'late', 1_000, { state: 'failed', error: { message: 'x', code: 'TIMEOUT', heraldCode: 'OUTBOX_EXPIRED' } }),
      entry('k5', 'login', 1_000, { path: 'auth.login' }),
    ];
    expect(texts(entries, emptyLog, false)).toEqual(['first (queued)', 'refused (failed)', 'late (failed)']);
    expect(texts(entries)).toEqual(['first (sending)', 'refused (failed)', 'late (failed)']);
    expect(unsentIn(entries, 'lobby', emptyLog, ME.id, true).map((u) => u.error)).toEqual([
      null,
      'Not sent: too long',
      'Not sent in time; it may or may not have arrived.',
    ]);
  });

  it('hides a pending entry the room already shows (the live event came before the answer): never twice for a moment', () => {
    const log = mergeMessages(emptyLog, [message('m1', 'hello', 2_000, ME)]);
    expect(texts([entry('k1', 'hello', 1_500)], log)).toEqual([]);
  });

  it('one message hides one entry; not from other people, other texts, much older messages, or failed entries', () => {
    const log = mergeMessages(emptyLog, [message('m1', 'ok', 100_000, ME), message('m2', 'ok', 100_500, BOB), message('m3', 'old', 1_000, ME)]);
    const entries = [
      entry('k1', 'ok', 100_000),
      entry('k2', 'ok', 100_100),
      entry('k3', 'old', 200_000),
      entry('k4', 'ok', 100_000, { state: 'failed', error: { message: 'no', code: 'FORBIDDEN', heraldCode: null } }),
    ];
    expect(texts(entries, log)).toEqual(['ok (sending)', 'old (sending)', 'ok (failed)']);
  });
});

describe('chatReducer', () => {
  const run = (actions: ChatAction[]): ChatState => actions.reduce(chatReducer, initialChatState(ME.id));
  const shown = (state: ChatState) => messagesOf(logOf(state, 'lobby')).map((m) => m.text);

  it('shows a sent message once whether the answer or the live event comes first', () => {
    const mine = message('m1', 'hello', 2_000, ME);
    const received = { type: 'received', room: 'lobby', messages: [mine] } as const;
    expect(shown(run([received, received]))).toEqual(['hello']);
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
  it('says connecting, reconnecting (the attempt apart from the announced text), offline, and connected again', () => {
    expect(bannerFor({ status: 'connecting', url: null }, true, false)?.text).toBe('Connecting…');
    expect(bannerFor({ status: 'reconnecting', attempt: 1, error: null, closeCode: null }, true, false)?.text).toMatch(/^Reconnecting…/);
    // The announced text stays the same on every attempt; the count is a detail beside it.
    const third = bannerFor({ status: 'reconnecting', attempt: 3, error: null, closeCode: null }, true, false);
    expect(third?.text).toBe(bannerFor({ status: 'reconnecting', attempt: 9, error: null, closeCode: null }, true, false)?.text);
    expect(third?.detail).toBe('attempt 3');
    expect(bannerFor({ status: 'open', url: 'ws://x/ws', transport: 'websocket' }, false, false)?.kind).toBe('offline');
    expect(bannerFor({ status: 'closed' }, true, false)?.kind).toBe('offline');
    expect(bannerFor({ status: 'open', url: 'ws://x/ws', transport: 'websocket' }, true, false)).toBeNull();
    expect(bannerFor({ status: 'open', url: 'ws://x/ws', transport: 'websocket' }, true, true)?.text).toBe('Connected again.');
  });
});

describe('unread counts', () => {
  const run = (actions: ChatAction[]): ChatState => actions.reduce(chatReducer, initialChatState(ME.id));

  it('counts new messages from others in a room not open, once each, and clears them when read', () => {
    const theirs = message('b1', 'hi', 1_000, BOB, 'other');
    const mine = message('m1', 'me too', 2_000, ME, 'other');
    let state = run([
      { type: 'received', room: 'other', messages: [theirs], unseen: true },
      { type: 'received', room: 'other', messages: [theirs], unseen: true },
      { type: 'received', room: 'other', messages: [mine], unseen: true },
      { type: 'received', room: 'lobby', messages: [message('b2', 'open room', 3_000)] },
    ]);
    expect(unreadIn(state, 'other')).toBe(1);
    expect(unreadIn(state, 'lobby')).toBe(0);
    expect(totalUnread(state)).toBe(1);
    state = chatReducer(state, { type: 'read', room: 'other' });
    expect(totalUnread(state)).toBe(0);
    expect(chatReducer(state, { type: 'read', room: 'other' })).toBe(state);
  });
});
