import { describe, expect, it } from 'vitest';
import {
  compareStreamIds,
  formatStreamId,
  nextStreamId,
  parseStreamId,
  previousStreamId,
  ZERO_ID,
  type StreamId,
} from '../../src/brokers/streamId.js';

// Pure functions of their arguments (nextStreamId is handed the clock), so no timer is involved.
describe('stream ids', () => {
  it('parses <ms>-<seq> and formats it back unchanged', () => {
    for (const text of ['0-0', '1-0', '1700000000000-0', '1700000000000-42', '9007199254740991-9007199254740991']) {
      const id = parseStreamId(text);
      expect(id, text).not.toBeNull();
      expect(formatStreamId(id as StreamId)).toBe(text);
    }
    expect(parseStreamId('1700000000000-42')).toEqual({ ms: 1700000000000, seq: 42 });
  });

  it('refuses malformed input', () => {
    const malformed = [
      '',
      '-',
      '1',
      '1-',
      '-1',
      '1-2-3',
      'a-1',
      '1-b',
      ' 1-1',
      '1-1 ',
      '+1-1',
      '-1-1',
      '1.5-0',
      '1e3-0',
      '0x10-0',
      '12345678901234567-0', // 17 digits
      '0-12345678901234567',
      '9999999999999999-0', // 16 digits, but past Number.MAX_SAFE_INTEGER
      '0-9999999999999999',
      '١-٢', // non-ASCII digits
    ];
    for (const text of malformed) expect(parseStreamId(text), JSON.stringify(text)).toBeNull();
  });

  it('orders by millisecond, then by sequence', () => {
    const ids = ['5-0', '1-10', '1-2', '10-0', '1-0', '0-0', '5-1'].map((text) => parseStreamId(text) as StreamId);
    expect([...ids].sort(compareStreamIds).map(formatStreamId)).toEqual(['0-0', '1-0', '1-2', '1-10', '5-0', '5-1', '10-0']);
    expect(compareStreamIds({ ms: 3, seq: 4 }, { ms: 3, seq: 4 })).toBe(0);
    expect(Math.sign(compareStreamIds({ ms: 2, seq: 999 }, { ms: 3, seq: 0 }))).toBe(-1);
    expect(Math.sign(compareStreamIds({ ms: 3, seq: 1 }, { ms: 3, seq: 0 }))).toBe(1);
    // Numerically, not as text: "10" sorts after "9".
    expect(Math.sign(compareStreamIds(parseStreamId('10-0') as StreamId, parseStreamId('9-0') as StreamId))).toBe(1);
  });

  it('ZERO_ID comes before every other id', () => {
    expect(formatStreamId(ZERO_ID)).toBe('0-0');
    expect(compareStreamIds(ZERO_ID, { ms: 0, seq: 1 })).toBeLessThan(0);
    expect(compareStreamIds(ZERO_ID, { ms: 1, seq: 0 })).toBeLessThan(0);
  });

  it('nextStreamId follows the clock, and counts within a millisecond or when the clock goes back', () => {
    expect(nextStreamId(ZERO_ID, 1_000)).toEqual({ ms: 1_000, seq: 0 });
    expect(nextStreamId({ ms: 1_000, seq: 0 }, 1_000)).toEqual({ ms: 1_000, seq: 1 });
    expect(nextStreamId({ ms: 1_000, seq: 7 }, 999)).toEqual({ ms: 1_000, seq: 8 });
    expect(nextStreamId({ ms: 1_000, seq: 7 }, 1_001)).toEqual({ ms: 1_001, seq: 0 });
    // Always strictly increasing.
    let last = ZERO_ID;
    for (const now of [5, 5, 5, 4, 6, 6, 1, 7]) {
      const next = nextStreamId(last, now);
      expect(compareStreamIds(next, last)).toBeGreaterThan(0);
      last = next;
    }
  });

  it('previousStreamId is the greatest id before the given one', () => {
    expect(previousStreamId({ ms: 5, seq: 3 })).toEqual({ ms: 5, seq: 2 });
    expect(previousStreamId({ ms: 5, seq: 0 })).toEqual({ ms: 4, seq: Number.MAX_SAFE_INTEGER });
    expect(previousStreamId(ZERO_ID)).toEqual({ ms: 0, seq: Number.MAX_SAFE_INTEGER });
    for (const id of [{ ms: 5, seq: 3 }, { ms: 5, seq: 0 }]) expect(compareStreamIds(previousStreamId(id), id)).toBeLessThan(0);
    // Within a millisecond nothing lies between them: the id after the previous one is `id` itself.
    expect(nextStreamId(previousStreamId({ ms: 5, seq: 3 }), 5)).toEqual({ ms: 5, seq: 3 });
  });
});
