import { fileURLToPath } from 'node:url';

/**
 * `relative` (a path from the repository root) as an absolute path. Worked
 * out on each call, not at import: under happy-dom a module's
 * `import.meta.url` is not a file URL, and the kit must still import there.
 */
export function repoPath(relative = ''): string {
  return fileURLToPath(new URL(`../../../${relative}`, import.meta.url));
}

/** True in CI, where tests never skip for a missing tool or service. */
export const IN_CI = Boolean(process.env['CI']);
