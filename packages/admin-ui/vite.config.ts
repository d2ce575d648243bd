import { fileURLToPath } from 'node:url';
import { defaultClientConditions, defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The admin page builds into @herald/server's `dist-admin/`, which the
 * server serves at `admin.path` and the package publishes. `base: './'`
 * keeps asset URLs relative, so the page works under any path.
 * `herald-source` resolves `@herald/*` to their sources: no package build first.
 */
export const ADMIN_OUT_DIR = fileURLToPath(new URL('../server/dist-admin', import.meta.url));

export default defineConfig({
  plugins: [react()],
  base: './',
  resolve: { conditions: ['herald-source', ...defaultClientConditions] },
  build: { outDir: ADMIN_OUT_DIR, emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: {
    // `pnpm dev` against a server on 8787 with `admin` on.
    proxy: { '/admin/ws': { target: 'ws://127.0.0.1:8787', ws: true } },
  },
});
