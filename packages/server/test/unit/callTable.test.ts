import { describe, expect, it } from 'vitest';
import { CallTable } from '../../src/ws/callTable.js';

describe('CallTable', () => {
  it('holds one call in place and more in a map, in the order they began, and lets a call leave while they are walked', () => {
    const table = new CallTable<string>();
    expect([...table.values()]).toEqual([]);
    table.set('a', 'A');
    table.set('a', 'A2');
    expect(table.get('a')).toBe('A2');
    expect(table.get('b')).toBeUndefined();
    table.set('b', 'B');
    table.set('c', 'C');
    expect([...table.values()]).toEqual(['A2', 'B', 'C']);
    const walked: string[] = [];
    for (const value of table.values()) {
      walked.push(value);
      table.delete(value === 'A2' ? 'a' : value.toLowerCase());
    }
    expect(walked).toEqual(['A2', 'B', 'C']);
    expect([...table.values()]).toEqual([]);
    table.set('d', 'D');
    table.delete('x');
    expect(table.get('d')).toBe('D');
    table.clear();
    expect(table.get('d')).toBeUndefined();
    expect([...table.values()]).toEqual([]);
  });
});
