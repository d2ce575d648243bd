/**
 * A Vite plugin that writes a brotli (`.br`) and a gzip (`.gz`) copy beside
 * every text file of the build, at the highest levels (the work is done once,
 * at build time). The chat server's static handler (sirv, `brotli` and `gzip`
 * on) serves the copy the browser accepts, with `Content-Encoding` and
 * `Vary: Accept-Encoding`; files that would not shrink keep no copy.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin, ResolvedConfig } from 'vite';

/** Extensions worth compressing: text. Images and fonts are compressed already. */
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.svg', '.json', '.txt', '.webmanifest']);
/** Smaller files gain nothing worth a second request path. */
const MIN_BYTES = 1_024;

async function* filesUnder(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield path;
  }
}

/** Compresses `file` both ways; returns how many copies were written. */
export async function precompressFile(file: string): Promise<number> {
  const body = await readFile(file);
  if (body.byteLength < MIN_BYTES) return 0;
  let written = 0;
  const brotli = brotliCompressSync(body, {
    params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength },
  });
  if (brotli.byteLength < body.byteLength) {
    await writeFile(`${file}.br`, brotli);
    written++;
  }
  const gzip = gzipSync(body, { level: constants.Z_BEST_COMPRESSION });
  if (gzip.byteLength < body.byteLength) {
    await writeFile(`${file}.gz`, gzip);
    written++;
  }
  return written;
}

export function precompress(): Plugin {
  let config: ResolvedConfig;
  return {
    name: 'herald-precompress',
    apply: 'build',
    configResolved(resolved) {
      config = resolved;
    },
    async closeBundle() {
      const outDir = resolve(config.root, config.build.outDir);
      for await (const file of filesUnder(outDir)) {
        if (COMPRESSIBLE.has(extname(file))) await precompressFile(file);
      }
    },
  };
}
