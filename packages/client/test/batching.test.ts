import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { Cleanup, FAST_BACKOFF, metricValue, scrape, startHardeningServer, type HardeningRouter } from '@herald/test-kit';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** Frames the server has received so far. */
async function framesReceived(server: Parameters<typeof scrape>[0]): Promise<number> {
  return metricValue(await scrape(server), 'herald_messages_received_total');
}

describe('calls made in one tick', () => {
  it.each([
    { maxCallsPerFrame: undefined, frames: 4 }, // the first at once, then 24 in batches of 10, 10 and 4
    { maxCallsPerFrame: 1, frames: 25 },
  ])('go out as batches of at most maxCallsPerFrame ($maxCallsPerFrame) and are all answered', async ({ maxCallsPerFrame, frames }) => {
    const { server } = cleanup.add(await startHardeningServer());
    const client = createHeraldClient<HardeningRouter>({
      url: server.url,
      backoff: FAST_BACKOFF,
      heartbeat: { pingIntervalMs: 60_000 },
      ...(maxCallsPerFrame === undefined ? {} : { maxCallsPerFrame }),
    });
    cleanup.add(client);
    expect(await client.trpc.add.query({ a: 0, b: 0 })).toBe(0); // connected
    const before = await framesReceived(server);
    const sums = await Promise.all(Array.from({ length: 25 }, (_, i) => client.trpc.add.query({ a: i, b: 1 })));
    expect(sums).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    expect((await framesReceived(server)) - before).toBe(frames);
  });
});
