import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The packages are ESM only: `require()` of any of them, or of a subpath,
 * fails with a message that says so and how to import them (the `require`
 * condition of every export names `require.cjs`). A plain `node` of its own
 * (the test's process resolves `herald-source`), from this package's folder;
 * scripts/release/check.ts checks the same of the packed tarballs.
 */
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** What `require(name)` throws in a fresh CommonJS `node`: its code and message. */
function requireError(name: string): { code: string; message: string } {
  const script = `try { require(${JSON.stringify(name)}); console.log(JSON.stringify({ code: 'loaded', message: '' })); } catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=commonjs', '-e', script], { cwd: packageDir, encoding: 'utf8' })) as { code: string; message: string };
}

describe("require() of Herald's packages", () => {
  for (const name of ['@herald/server', '@herald/server/jwt', '@herald/client', '@herald/client/http', '@herald/client/otel', '@herald/shared']) {
    it(`fails for ${name}, saying the package is ESM and how to import it`, () => {
      const packageName = name.split('/').slice(0, 2).join('/');
      const { code, message } = requireError(name);
      expect(code).toBe('ERR_REQUIRE_ESM');
      expect(message).toContain(`${packageName} is an ES module package and cannot be loaded with require(). Import it instead`);
      expect(message).toContain(`await import('${packageName}') from CommonJS`);
    });
  }
});
