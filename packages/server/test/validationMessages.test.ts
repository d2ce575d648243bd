import { afterEach, describe, expect, it } from 'vitest';
import { createHeraldClient } from '@herald/client';
import { httpTransport } from '@herald/client/http';
import { Cleanup, FAST_BACKOFF, startHardeningServer, trpcErrorOf, type HardeningRouter } from '@herald/test-kit';

/**
 * An input that fails its zod schema, as the app's client sees it
 * (`heraldErrorFormatter`): a message of one line per issue, `path: message`,
 * with the issues themselves in `data.zodIssues`; the same over WebSocket
 * and over HTTP.
 */
const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('a validation error', () => {
  for (const transport of ['websocket', 'http'] as const) {
    it(`reads one line per zod issue, and keeps the issues in data (over ${transport})`, async () => {
      const { server } = cleanup.add(await startHardeningServer());
      const client = cleanup.add(
        createHeraldClient<HardeningRouter>({ url: server.url, backoff: FAST_BACKOFF, ...(transport === 'http' ? { transport: 'http', http: httpTransport } : {}) }),
      );
      const error = await trpcErrorOf(client.trpc.add.query({ a: 'one' } as never));
      expect(error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400 });
      const issues = (error.data as { zodIssues?: { path: unknown[]; message: string }[] }).zodIssues ?? [];
      expect(issues.length).toBeGreaterThanOrEqual(2);
      expect(error.message.split('\n')).toEqual(issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`));
      expect(error.message).toMatch(/^a: .*expected number/m);
      expect(error.message).not.toMatch(/[{}[\]]/);
    });
  }
});
