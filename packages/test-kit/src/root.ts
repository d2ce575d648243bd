import { fileURLToPath } from 'node:url';

/** The repository root (where `tsx` and `deploy/` are). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** True in CI, where tests never skip for a missing tool or service. */
export const IN_CI = Boolean(process.env['CI']);
