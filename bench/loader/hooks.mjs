// Module hooks that strip TypeScript with esbuild, as tsx does, but WITHOUT
// esbuild's `keepNames`. tsx turns keepNames on, which wraps every function
// expression in `__name(fn, "…")` (an Object.defineProperty at run time):
// each closure Herald creates per subscription or per delivery then costs a
// property store (256 bytes) and a defineProperty call that the code built by
// tsc for production never pays. The other systems' hot paths are plain
// JavaScript packages, so that would bias the comparison against Herald.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const TYPESCRIPT = /\.[cm]?tsx?$/;

/** TypeScript's NodeNext convention: a path import `./x.js` names `./x.ts`. */
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const path = specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:');
    if (error?.code === 'ERR_MODULE_NOT_FOUND' && path && specifier.endsWith('.js')) {
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw error;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !TYPESCRIPT.test(url)) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const { code } = await transform(await readFile(path, 'utf8'), {
    loader: url.endsWith('x') ? 'tsx' : 'ts',
    format: 'esm',
    target: 'node20',
    sourcefile: path,
    keepNames: false,
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: true, jsx: 'react-jsx' } },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
