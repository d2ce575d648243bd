import { transformer } from '@herald/shared';
import { describe, expect, it } from 'vitest';
import { DecodedEntries } from '../../src/channels/decodedEntries.js';

const entry = (id: string, message: unknown) => ({ id, data: transformer.stringify(message) });

describe('DecodedEntries', () => {
  it('decodes an entry once and serves every later read of it the same value', () => {
    const decoded = new DecodedEntries(1_000_000);
    const stored = entry('1-0', { text: 'hello', at: new Date(5) });
    const first = decoded.decode<{ text: string; at: Date }>('room:a', stored);
    expect(first).toEqual({ text: 'hello', at: new Date(5) });
    // The same entry as another read brings it (a fresh copy of its text, as from Redis).
    const again = decoded.decode('room:a', { id: '1-0', data: `${stored.data} `.trimEnd() });
    expect(again).toBe(first);
    expect(decoded.size.entries).toBe(1);
  });

  it('keeps topics apart, and decodes again when an id comes back with other text', () => {
    const decoded = new DecodedEntries(1_000_000);
    const a = decoded.decode('room:a', entry('1-0', { text: 'a' }));
    const b = decoded.decode('room:b', entry('1-0', { text: 'b' }));
    expect(a).toEqual({ text: 'a' });
    expect(b).toEqual({ text: 'b' });
    // The topic cleared and its ids reused: the new message, never the kept one.
    expect(decoded.decode('room:a', entry('1-0', { text: 'other' }))).toEqual({ text: 'other' });
    expect(decoded.size.entries).toBe(2);
  });

  it('drops the least recently read entries past its bytes, and keeps none larger than them', () => {
    const text = 'x'.repeat(1_000);
    const decoded = new DecodedEntries(10_000);
    const first = decoded.decode('room:a', entry('1-0', { text }));
    for (let n = 2; n <= 4; n++) decoded.decode('room:a', entry(`${n}-0`, { text }));
    // Read again: the most recently read now.
    expect(decoded.decode('room:a', entry('1-0', { text }))).toBe(first);
    for (let n = 5; n <= 20; n++) decoded.decode('room:a', entry(`${n}-0`, { text }));
    expect(decoded.size.bytes).toBeLessThanOrEqual(10_000);
    expect(decoded.size.entries).toBe(4);
    // 1-0 went with the others that were read before the last four.
    expect(decoded.decode('room:a', entry('1-0', { text }))).not.toBe(first);

    const huge = entry('99-0', { text: 'y'.repeat(20_000) });
    decoded.decode('room:a', huge);
    expect(decoded.size.bytes).toBeLessThanOrEqual(10_000);
    expect(decoded.decode('room:a', huge)).toEqual({ text: 'y'.repeat(20_000) });
  });
});
