/** Which connections an admin lookup names: ids and user keys by prefix, display names by any part, one node's, or all. */
import { describe, expect, it } from 'vitest';
import { LOOKUP_ALL, lookupMatcher } from '../../src/admin/lookups.js';

const CONNECTIONS = [
  { id: 'c1', key: 'u_3f9c01', name: 'Ada Lovelace' },
  { id: 'c12', key: 'Anna', name: null },
  { id: 'c2', key: null, name: null },
  { id: 'h1', key: 'u_77aa', name: 'Grace Hopper' },
] as const;

function found(query: string, nodeId = 'node-a'): string[] {
  const matches = lookupMatcher(query, nodeId);
  return matches ? CONNECTIONS.filter((c) => matches({ connectionId: c.id, userKey: c.key, displayName: c.name, topics: () => [] })).map((c) => c.id) : [];
}

describe('lookupMatcher', () => {
  it('finds connection ids and user keys by prefix, keys without case', () => {
    expect(found('c1')).toEqual(['c1', 'c12']);
    expect(found('c12')).toEqual(['c12']);
    expect(found('u_3f')).toEqual(['c1']);
    expect(found('ann')).toEqual(['c12']);
    expect(found('zed')).toEqual([]);
  });

  it('finds display names by any part of them, without case', () => {
    expect(found('lovelace')).toEqual(['c1']);
    expect(found('GRACE')).toEqual(['h1']);
    expect(found('a')).toEqual(['c1', 'c12', 'h1']);
    expect(found('hopperx')).toEqual([]);
  });

  it('browses one node with `<nodeId>/`, and a prefix there; another node names nothing here', () => {
    expect(found('node-a/')).toEqual(['c1', 'c12', 'c2', 'h1']);
    expect(found('node-a/c1')).toEqual(['c1', 'c12']);
    expect(lookupMatcher('node-b/', 'node-a')).toBeNull();
  });

  it('lists everything with `*`', () => {
    expect(found(LOOKUP_ALL)).toEqual(['c1', 'c12', 'c2', 'h1']);
  });
});
