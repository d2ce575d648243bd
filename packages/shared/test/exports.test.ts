/**
 * The packages' public doors, read by the TypeScript compiler from the entry
 * files their package.json `exports` name (the `herald-source` condition):
 *
 * - `@herald/server` and `@herald/client` re-export exactly the public set of
 *   `@herald/shared` (its root), types and values alike, and nothing else of
 *   it (no internal leaks through them);
 * - `@herald/shared`'s root and `./internal` share no name;
 * - a name exported by more than one public entry is the same declaration in
 *   each, so no exported name means two different things.
 *
 * The list of shared names lives in one place, packages/shared/src/index.ts;
 * this test derives every expectation from the entries themselves.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
// @herald/shared has no dependency on the packages built on it, so their roots are imported by path.
import * as client from '../../client/src/index.js';
import * as server from '../../server/src/index.js';
import * as shared from '../src/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SHARED_SRC = join(ROOT, 'packages/shared/src') + '/';

interface PackageJson {
  readonly name: string;
  readonly exports: Record<string, { readonly 'herald-source': string }>;
}

/** Every entry of a package: `@herald/x` or `@herald/x/sub`, and its source file. */
function entriesOf(packageDir: string): { name: string; file: string }[] {
  const json = JSON.parse(readFileSync(join(ROOT, packageDir, 'package.json'), 'utf8')) as PackageJson;
  return Object.entries(json.exports).map(([subpath, conditions]) => ({
    name: subpath === '.' ? json.name : `${json.name}/${subpath.slice(2)}`,
    file: resolve(ROOT, packageDir, conditions['herald-source']),
  }));
}

const ENTRIES = [...entriesOf('packages/shared'), ...entriesOf('packages/server'), ...entriesOf('packages/client')];
const INTERNAL = '@herald/shared/internal';

/** Per entry: each exported name and the declaration it resolves to. */
let exportsOf: Map<string, Map<string, ts.Symbol>>;
let isValue: (symbol: ts.Symbol) => boolean;

beforeAll(() => {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (!config) throw new Error('tsconfig.json could not be read');
  const program = ts.createProgram({ rootNames: ENTRIES.map((entry) => entry.file), options: config.options });
  const checker = program.getTypeChecker();
  const resolveAlias = (symbol: ts.Symbol) => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
  isValue = (symbol) => (symbol.flags & ts.SymbolFlags.Value) !== 0;
  exportsOf = new Map(
    ENTRIES.map(({ name, file }) => {
      const source = program.getSourceFile(file);
      const module = source && checker.getSymbolAtLocation(source);
      if (!module) throw new Error(`${name}: no module at ${file}`);
      return [name, new Map(checker.getExportsOfModule(module).map((symbol) => [symbol.name, resolveAlias(symbol)]))];
    }),
  );
}, 120_000);

const entry = (name: string) => {
  const found = exportsOf.get(name);
  if (!found) throw new Error(`no entry ${name}`);
  return found;
};

/** The names an entry exports whose declaration is in packages/shared/src. */
function sharedNamesIn(name: string): string[] {
  return [...entry(name)]
    .filter(([, symbol]) => symbol.declarations?.some((declaration) => declaration.getSourceFile().fileName.startsWith(SHARED_SRC)))
    .map(([exported]) => exported)
    .sort();
}

describe('public doors', () => {
  it('finds the entries of all three packages', () => {
    expect(ENTRIES.map((e) => e.name).sort()).toEqual(
      expect.arrayContaining(['@herald/client', '@herald/client/react', '@herald/server', '@herald/shared', INTERNAL]),
    );
  });

  it.each(['@herald/server', '@herald/client'])('%s re-exports exactly the public set of @herald/shared', (name) => {
    const publicSet = [...entry('@herald/shared').keys()].sort();
    expect(publicSet.length).toBeGreaterThan(0);
    expect(sharedNamesIn(name)).toEqual(publicSet);
    for (const shared of publicSet) expect(entry(name).get(shared), shared).toBe(entry('@herald/shared').get(shared));
  });

  it("@herald/shared's root and ./internal share no name", () => {
    const internal = [...entry(INTERNAL).keys()];
    expect(internal.length).toBeGreaterThan(0);
    expect(internal.filter((name) => entry('@herald/shared').has(name))).toEqual([]);
  });

  it('no public entry exports an internal of @herald/shared', () => {
    const internal = new Set(entry(INTERNAL).values());
    for (const [name, exported] of exportsOf) {
      if (name === INTERNAL) continue;
      expect([...exported].filter(([, symbol]) => internal.has(symbol)).map(([n]) => `${name}: ${n}`)).toEqual([]);
    }
  });

  it('a name exported by more than one public entry is one declaration', () => {
    const seen = new Map<string, { entry: string; symbol: ts.Symbol }>();
    const clashes: string[] = [];
    for (const [name, exported] of exportsOf) {
      if (name === INTERNAL) continue;
      for (const [exportedName, symbol] of exported) {
        const first = seen.get(exportedName);
        if (!first) seen.set(exportedName, { entry: name, symbol });
        else if (first.symbol !== symbol) clashes.push(`${exportedName}: ${first.entry} and ${name}`);
      }
    }
    expect(clashes).toEqual([]);
  });

  it('at run time, both packages hand out the very values of @herald/shared', () => {
    const values = [...entry('@herald/shared')].filter(([, symbol]) => isValue(symbol)).map(([name]) => name);
    expect(Object.keys(shared).sort()).toEqual(values.sort());
    const record = (module: object) => module as Record<string, unknown>;
    for (const name of values) {
      expect(record(server)[name], `@herald/server ${name}`).toBe(record(shared)[name]);
      expect(record(client)[name], `@herald/client ${name}`).toBe(record(shared)[name]);
    }
  });
});
