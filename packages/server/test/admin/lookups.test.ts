/** Which connections an admin lookup names: ids and user keys by prefix, one node's, or all. */
import { describe, expect, it } from 'vitest';
import { LOOKUP_ALL, lookupMatcher } from '../../src/admin/lookups.js';

const CONNECTIONS = [
  { id: 'c1', key: 'u_3f9c01' },
  { id: 'c12', key: 'Anna' },
  { id: 'c2', key: null },
] as const;

function found(query: string, nodeId = 'node-a'): string[] {
  const matches = lookupMatcher(query, nodeId);
  return matches ? CONNECTIONS.filter((c) => matches(c.id, c.key)).map((c) => c.id) : [];
}

describe('lookupMatcher', () => {
  it('finds connection ids and user keys by prefix, keys without case', () => {
    expect(found('c1')).toEqual(['c1', 'c12']);
    expect(found('c12')).toEqual(['c12']);
    expect(found('u_3f')).toEqual(['c1']);
    expect(found('ann')).toEqual(['c12']);
    expect(found('zed')).toEqual([]);
  });

  it('browses one node with `<nodeId>/`, and a prefix there; another node names nothing here', () => {
    expect(found('node-a/')).toEqual(['c1', 'c12', 'c2']);
    expect(found('node-a/c1')).toEqual(['c1', 'c12']);
    expect(lookupMatcher('node-b/', 'node-a')).toBeNull();
  });

  it('lists everything with `*`', () => {
    expect(found(LOOKUP_ALL)).toEqual(['c1', 'c12', 'c2']);
  });
});
