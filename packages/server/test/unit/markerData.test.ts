import { describe, expect, it } from 'vitest';
import { initTRPC } from '@trpc/server';
import { transformer, type ChannelEvent } from '@herald/shared';
import { plainTrackedData, Wire } from '../../src/ws/wire.js';

const wire = new Wire(initTRPC.create({ transformer }).router({}));

describe('plainTrackedData', () => {
  const markers: Exclude<ChannelEvent<unknown>, { type: 'message' }>[] = [
    { type: 'live', replayed: 0 },
    { type: 'live', replayed: 1_234 },
    { type: 'gap', reason: 'trimmed' },
    { type: 'gap', reason: 'unknown-position' },
  ];

  it.each(markers)('writes %o exactly as the transformer does', (event) => {
    const position = '1795971825672-17';
    const plain = plainTrackedData(position, event);
    expect(plain).toBe(wire.serializeTracked(position, event));
    expect(transformer.deserialize(JSON.parse(plain) as never)).toEqual({ id: position, data: event });
  });
});
