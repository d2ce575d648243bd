import { defaultClientConditions, defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { precompress } from './build/precompress.js';

// `herald-source` makes `@herald/*` (and the client's `#platform`, as its
// browser variant) resolve to their TypeScript sources, so the app builds
// without building the packages first.
export default defineConfig({
  // Brotli and gzip copies beside each text file, served by the chat server (sirv) by Accept-Encoding.
  plugins: [react(), precompress()],
  resolve: { conditions: ['herald-source', ...defaultClientConditions] },
  // No source maps in the production build: the server would publish them.
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022' },
  server: {
    // `pnpm dev`: the chat server (`pnpm start` at the root) answers the
    // WebSocket, and `/trpc` (HTTP and Server-Sent Events) when it falls back.
    proxy: { '/ws': { target: 'ws://127.0.0.1:8787', ws: true }, '/trpc': { target: 'http://127.0.0.1:8787' } },
  },
});
