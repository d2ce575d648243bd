/**
 * The import-cycle check (`pnpm check:cycles`, part of `pnpm test`): no
 * cycle among the source files of any package, type-only imports included
 * (`tsPreCompilationDeps`): a file that needs even a type from the file that
 * imports it is split by size, not by job.
 * Packages import each other through their `herald-source` condition, so a
 * cycle that crosses packages is seen too.
 * @type {import('dependency-cruiser').IConfiguration}
 */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'This file is part of an import cycle (type-only imports count). Move what both sides need into a module of its own, or have one side depend on a narrow interface.',
      from: { path: '^packages/[^/]+/src/' },
      to: { circular: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    includeOnly: '^packages/[^/]+/src/',
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6'],
    enhancedResolveOptions: {
      conditionNames: ['herald-source', 'import', 'node', 'default'],
      exportsFields: ['exports'],
      extensions: ['.ts', '.tsx', '.d.ts', '.js', '.mjs'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
