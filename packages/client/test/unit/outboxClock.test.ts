import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { OutboxOutcome, PersistedCallObserver } from '../../src/persistence.js';
import { DurableOutbox, type OutboxClock } from '../../src/persistence/durableOutbox.js';
import { memoryStorage, type HeraldStorage } from '../../src/persistence/storage.js';
import { FakeHost } from '../helpers/fakeOutboxHost.js';

/**
 * Order and age do not trust the wall clock (issue 32, item 8). The wall
 * clock is faked timers' `Date`, stepped with `setSystemTime`; the monotonic
 * clock is a counter that only `advance` moves, with the timers.
 */
let monotonic = 0;
const clock: OutboxClock = { monotonicNow: () => monotonic, wallNow: () => Date.now() };
async function advance(ms: number): Promise<void> {
  monotonic += ms;
  await vi.advanceTimersByTimeAsync(ms);
}
function stepWallClock(ms: number): void {
  vi.setSystemTime(Date.now() + ms);
}

const settings = { maxAgeMs: 10_000, claimIntervalMs: 1_000, retryDelayMs: 500, inOrder: true, clock, onError: (error: Error) => expect.fail(error.message) };
const observer = (): PersistedCallObserver => ({ next: () => undefined, error: () => undefined, complete: () => undefined });

async function outboxOn(storage: HeraldStorage, host: FakeHost) {
  const outbox = new DurableOutbox(storage, host, settings);
  const outcomes: OutboxOutcome[] = [];
  outbox.onSettled((outcome) => outcomes.push(outcome));
  await outbox.ready;
  return { outbox, outcomes };
}

const inputs = (host: FakeHost) => host.sent.map((sent) => (sent.call.input as { n: string }).n);

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-06-01T12:00:00Z') });
  monotonic = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

describe('order and age that do not trust the wall clock', () => {
  it('a wall clock stepped back 60 s between mutations does not reorder them', async () => {
    const host = new FakeHost();
    const { outbox, outcomes } = await outboxOn(memoryStorage(), host);
    outbox.mutate('write', { n: 'A' }, observer());
    outbox.mutate('write', { n: 'B' }, observer());
    await advance(0);
    stepWallClock(-60_000);
    outbox.mutate('write', { n: 'C' }, observer());
    outbox.mutate('write', { n: 'D' }, observer());
    await advance(0);
    expect(outbox.entries.map((entry) => (entry.input as { n: string }).n)).toEqual(['A', 'B', 'C', 'D']);
    for (let i = 0; i < 4; i++) host.sent[i]!.observer.next({ type: 'data', data: i });
    expect(inputs(host)).toEqual(['A', 'B', 'C', 'D']);
    expect(outcomes.map((outcome) => outcome.type)).toEqual(['success', 'success', 'success', 'success']);
    await outbox.close();
  });

  it('the order survives restarts with the wall clock stepped back between them (each client takes the next epoch)', async () => {
    const storage = memoryStorage();
    const first = await outboxOn(storage, new FakeHost('a'));
    first.outbox.mutate('write', { n: 'A' }, observer());
    first.outbox.mutate('write', { n: 'B' }, observer());
    await advance(0);
    await first.outbox.close();
    stepWallClock(-60_000);
    const second = await outboxOn(storage, new FakeHost('b'));
    second.outbox.mutate('write', { n: 'C' }, observer());
    second.outbox.mutate('write', { n: 'D' }, observer());
    await advance(0);
    await second.outbox.close();

    const host = new FakeHost('c');
    host.answerAtOnce = true;
    const third = await outboxOn(storage, host);
    expect(inputs(host)).toEqual(['A', 'B', 'C', 'D']);
    expect(third.outcomes.map((outcome) => outcome.type)).toEqual(['success', 'success', 'success', 'success']);
    await third.outbox.close();
  });

  it('a wall clock stepped forward past maxAgeMs expires nothing; maxAgeMs on the monotonic clock still does', async () => {
    const host = new FakeHost();
    const { outbox, outcomes } = await outboxOn(memoryStorage(), host);
    outbox.mutate('write', { n: 'A' }, observer());
    outbox.mutate('write', { n: 'B' }, observer());
    await advance(0);
    expect(inputs(host)).toEqual(['A']); // B waits for A's outcome, unsent
    stepWallClock(10 * 60_000);
    await advance(1);
    host.sent[0]!.observer.next({ type: 'data', data: 'a' });
    expect(inputs(host)).toEqual(['A', 'B']); // sent, not expired
    await advance(settings.maxAgeMs - 2);
    expect(outcomes.map((outcome) => outcome.type)).toEqual(['success']);
    await advance(1);
    expect(outcomes.map((outcome) => outcome.type)).toEqual(['success', 'expired']);
    await outbox.close();
  });

  it('across a restart an entry ages by the wall clock since it was written: past maxAgeMs it expires, and a clock behind it counts as age 0', async () => {
    const storage = memoryStorage();
    const first = await outboxOn(storage, new FakeHost('a'));
    first.outbox.mutate('write', { n: 'old' }, observer());
    await advance(0);
    await first.outbox.close();
    stepWallClock(-5 * 60_000); // the machine's clock was set back while the app was closed
    const second = await outboxOn(storage, new FakeHost('b'));
    expect(second.outcomes).toEqual([]);
    await advance(settings.maxAgeMs - 1);
    expect(second.outcomes).toEqual([]);
    await advance(1);
    expect(second.outcomes.map((outcome) => outcome.type)).toEqual(['expired']);
    await second.outbox.close();

    const third = await outboxOn(storage, new FakeHost('c'));
    third.outbox.mutate('write', { n: 'new' }, observer());
    await advance(0);
    await third.outbox.close();
    stepWallClock(settings.maxAgeMs + 1);
    const host = new FakeHost('d');
    const fourth = await outboxOn(storage, host);
    expect(fourth.outcomes.map((outcome) => [outcome.type, (outcome.entry.input as { n: string }).n])).toEqual([['expired', 'new']]);
    expect(host.sent).toEqual([]);
    await fourth.outbox.close();
  });
});
