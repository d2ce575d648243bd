/** The admin page's bounded event log: newest first, oldest overwritten, losses counted and handed over once. */
import { describe, expect, it } from 'vitest';
import { EventRing } from '../../src/admin/eventLog.js';

describe('EventRing', () => {
  it('lists the newest first, up to a limit', () => {
    const ring = new EventRing<number>(4);
    for (const n of [1, 2, 3]) ring.push(n);
    expect(ring.newest()).toEqual([3, 2, 1]);
    expect(ring.newest(2)).toEqual([3, 2]);
  });

  it('overwrites the oldest past its capacity and counts what it let go', () => {
    const ring = new EventRing<number>(3);
    for (let n = 1; n <= 7; n++) ring.push(n);
    expect(ring.newest()).toEqual([7, 6, 5]);
    expect(ring.take()).toEqual({ items: [5, 6, 7], lost: 4 });
    // Taken: empty, and the count starts over.
    expect(ring.take()).toEqual({ items: [], lost: 0 });
    ring.push(8);
    expect(ring.take()).toEqual({ items: [8], lost: 0 });
  });
});
