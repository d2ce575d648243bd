import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import sirv from 'sirv';

/**
 * The web app's Content Security Policy: its own scripts and styles only, and
 * connections to this origin (the WebSocket is same-host).
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  // blob: for the chat's images, shown from object URLs made from their bytes.
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/**
 * Serves a built single-page app from `dir` (GET and HEAD only): files by
 * path, `index.html` for any other path without a file extension (client-side
 * routes), 404 for a missing asset. sirv lists the directory once at start and
 * serves only files it found there, so no request path can reach outside it.
 * Fingerprinted files under `/assets/` are cached for good; the rest revalidate.
 * Precompressed copies (`file.br`, `file.gz`) are served to clients that
 * accept them.
 */
export function staticAppHandler(dir: string): (req: IncomingMessage, res: ServerResponse) => boolean {
  const root = resolve(dir);
  if (!existsSync(join(root, 'index.html'))) {
    throw new Error(`staticDir ${root} has no index.html: build the web app first (pnpm --filter @herald/example-chat-web build)`);
  }
  const serve = sirv(root, {
    dev: false,
    etag: true,
    single: true,
    dotfiles: false,
    // The build writes `.br` and `.gz` copies beside each text file (examples/chat-web/build/precompress.ts):
    // sirv serves the one the request accepts, with Content-Encoding and Vary: Accept-Encoding.
    brotli: true,
    gzip: true,
    setHeaders(res, pathname) {
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('Cache-Control', pathname.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
      // `pathname` is the request's, so `index.html` may be served for any
      // route: every response gets the page headers (harmless on the rest).
      res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
      res.setHeader('X-Frame-Options', 'DENY');
    },
  });

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    serve(req, res, () => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'NOT_FOUND', message: `No file for ${req.url}` }));
    });
    return true;
  };
}
