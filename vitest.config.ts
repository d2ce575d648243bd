import { defineConfig } from 'vitest/config';

// Tests run against sources: the `herald-source` export condition maps every
// `@herald/*` import (and the client's `#platform`) to `src/`, so no build is needed.
export default defineConfig({
  resolve: { conditions: ['herald-source'] },
  ssr: { resolve: { conditions: ['herald-source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The bad-input suite measures the heap after a full collection (global.gc).
    execArgv: ['--expose-gc'],
    reporters: ['default'],
  },
});
