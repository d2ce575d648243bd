import { defineConfig } from 'vitest/config';

/**
 * The protocol suites: their clients come from `@herald/test-kit`
 * (`makeClient`, `stockClient`, `heraldClient`), whose encoding is
 * `HERALD_TEST_ENCODING`'s, so the `msgpack` project runs them again over
 * MessagePack (the `json` project runs every suite over JSON).
 */
const PROTOCOL_SUITES = [
  ...['chaos', 'connectionChannel', 'live', 'liveDelivery', 'misuse', 'ordering', 'payloads', 'trust', 'userChannel'].map(
    (name) => `packages/server/test/${name}.test.ts`,
  ),
  ...['exactlyOnce', 'reconnect'].map((name) => `examples/chat-server/test/${name}.test.ts`),
];

// Tests run against sources: the `herald-source` export condition maps every
// `@herald/*` import (and the client's `#platform`) to `src/`, so no build is needed.
export default defineConfig({
  resolve: { conditions: ['herald-source'] },
  ssr: { resolve: { conditions: ['herald-source'] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The bad-input suite measures the heap after a full collection (global.gc).
    execArgv: ['--expose-gc'],
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'json', include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'msgpack', include: PROTOCOL_SUITES, env: { HERALD_TEST_ENCODING: 'msgpack' } } },
    ],
  },
});
