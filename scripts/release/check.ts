/**
 * `pnpm release:check`: the packages as an npm user gets them.
 *
 *  1. Builds from clean and `pnpm pack`s every publishable package.
 *  2. Checks each tarball: its package.json (exports are `types` + `import`,
 *     and `require` naming require.cjs, which throws saying the package is
 *     ESM and how to import it; no `herald-source` condition, no `workspace:` range), its files (no
 *     `src/`, no source or declaration maps), then publint and
 *     arethetypeswrong (ESM-only profile: the packages are ESM).
 *  3. For the lowest and the highest supported versions (`COMBINATIONS`):
 *     a scratch npm project under the OS temp directory, outside the
 *     workspace, installs the tarballs with `npm install` beside tRPC, zod,
 *     TypeScript and React's peers; typechecks the README's tour
 *     (docs/tour/*.ts) with `moduleResolution: NodeNext`, strict, without
 *     `skipLibCheck` and with no types but `@types/node` (the server side
 *     first, before `ws` is installed); checks that the
 *     optional peers (ioredis, jose, prom-client, @opentelemetry/api) are not
 *     installed (the tour then runs without tracing); runs the
 *     tour's server, its client and the stock-client example (each must exit
 *     on its own), and a server with metrics on, which must refuse to start
 *     without prom-client and say what to do; all on the combination's
 *     Node.js (the lowest: 20.19.0, the highest: the newest), installed into
 *     the project from npm's `node` package.
 *
 *   pnpm release:check                 everything
 *   pnpm release:check --only=lowest   one combination
 *   pnpm release:check --keep          leave the scratch projects for a look
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMBINATIONS, type Combination } from './versions.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PACKAGES = ['shared', 'server', 'client'] as const;
/** Optional peers: a server that does not use them must run without them. */
const OPTIONAL_PEERS = ['ioredis', 'jose', 'prom-client', '@opentelemetry/api'];
/** What each export's `require` condition names: a CommonJS file that throws, saying the package is ESM and how to import it. */
const REQUIRE_STUB = './require.cjs';
/** The tour's files, copied verbatim (the README includes them). */
const TOUR = path.join(root, 'docs/tour');
/** The scratch project's tsconfig and the checks that are not part of the tour. */
const SCRATCH_TEMPLATE = path.join(root, 'scripts/release/scratch');
/** Each step's limit: nothing here may hang CI. */
const INSTALL_TIMEOUT_MS = 300_000;
const STEP_TIMEOUT_MS = 120_000;
const RUN_TIMEOUT_MS = 30_000;

const args = process.argv.slice(2);
const keep = args.includes('--keep');
const only = args.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
const started = Date.now();

function log(message: string): void {
  process.stdout.write(`== ${message}\n`);
}

/** A failed check: reported once, at the end, after the scratch servers are stopped. */
class CheckFailure extends Error {}

function fail(message: string): never {
  throw new CheckFailure(message);
}

/** Servers this check started: killed however it ends. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/**
 * The environment without what `pnpm run` adds for its own scripts
 * (`npm_config_*`, `npm_package_*`): the scratch projects' npm must see what
 * a user's npm sees.
 */
const userEnvironment = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_(config|package|lifecycle)_/i.test(key)));

/** Runs a command to completion (bounded), echoing its output; fails the check on a non-zero exit. */
function run(command: string, commandArgs: readonly string[], options: { cwd: string; timeoutMs?: number; quiet?: boolean }): string {
  const result = spawnSync(command, commandArgs, {
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? STEP_TIMEOUT_MS,
    env: { ...userEnvironment, NO_COLOR: '1', FORCE_COLOR: '0' },
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  if (!options.quiet || result.status !== 0) process.stdout.write(output);
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') {
    fail(`${command} ${commandArgs.join(' ')} did not finish within ${options.timeoutMs ?? STEP_TIMEOUT_MS} ms`);
  }
  if (result.error) fail(`${command} ${commandArgs.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${commandArgs.join(' ')} exited with ${result.status ?? result.signal}`);
  return output;
}

/** Builds from clean (a stale file in dist/ would ship) and packs each package into `dir`. */
function buildAndPack(dir: string): Map<string, string> {
  log('build');
  for (const name of PACKAGES) {
    rmSync(path.join(root, 'packages', name, 'dist'), { recursive: true, force: true });
    rmSync(path.join(root, 'packages', name, 'tsconfig.tsbuildinfo'), { force: true });
  }
  run('pnpm', ['run', 'build'], { cwd: root, quiet: true });
  const tarballs = new Map<string, string>();
  for (const name of PACKAGES) {
    run('pnpm', ['pack', '--pack-destination', dir], { cwd: path.join(root, 'packages', name), quiet: true });
    const file = readdirSync(dir).find((entry) => entry.startsWith(`herald-${name}-`) && entry.endsWith('.tgz'));
    if (!file) fail(`pnpm pack of packages/${name} left no tarball`);
    tarballs.set(name, path.join(dir, file));
  }
  return tarballs;
}

// 2. Each tarball as published.
interface PackedManifest {
  readonly name: string;
  readonly exports: Record<string, Record<string, unknown>>;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
}

/** Checks one tarball as published; returns a line with its size. */
function checkTarball(name: string, tarball: string): string {
  log(`check ${path.basename(tarball)}`);
  const cwd = path.dirname(tarball);
  const manifestText = run('tar', ['-xzOf', tarball, 'package/package.json'], { cwd, quiet: true });
  const manifest = JSON.parse(manifestText) as PackedManifest;
  if (manifestText.includes('herald-source')) fail(`${manifest.name}: the packed package.json still has the herald-source condition`);
  if (manifestText.includes('workspace:')) fail(`${manifest.name}: the packed package.json still has a workspace: range`);
  // pnpm writes publishConfig.exports over exports: a subpath added to one must be added to the other.
  const workspaceManifest = JSON.parse(readFileSync(path.join(root, 'packages', name, 'package.json'), 'utf8')) as PackedManifest;
  const missing = Object.keys(workspaceManifest.exports).filter((subpath) => !(subpath in manifest.exports));
  if (missing.length > 0) fail(`${manifest.name}: ${missing.join(', ')} in exports but not in publishConfig.exports, so not published`);
  for (const [subpath, conditions] of Object.entries(manifest.exports)) {
    const keys = Object.keys(conditions).join(',');
    if (keys !== 'types,import,require') fail(`${manifest.name}: exports["${subpath}"] has conditions ${keys}, expected types,import,require`);
    // ESM only: `require` leads to the file that says so and how to import instead.
    if (conditions['require'] !== REQUIRE_STUB) fail(`${manifest.name}: exports["${subpath}"].require is ${String(conditions['require'])}, expected ${REQUIRE_STUB}`);
  }
  const files = run('tar', ['-tzf', tarball], { cwd, quiet: true }).trim().split('\n');
  if (!files.includes(`package/${REQUIRE_STUB.slice(2)}`)) fail(`${manifest.name} does not ship ${REQUIRE_STUB}, which its exports' require condition names`);
  const unwanted = files.filter((file) => file.startsWith('package/src/') || file.endsWith('.map') || file.endsWith('.tsbuildinfo'));
  if (unwanted.length > 0) fail(`${manifest.name} ships ${unwanted.slice(0, 5).join(', ')}`);
  // The admin page ships prebuilt (`pnpm build` builds packages/admin-ui into dist-admin/).
  if (name === 'server' && !files.includes('package/dist-admin/index.html')) fail(`${manifest.name} does not ship the admin page (dist-admin/index.html)`);
  const shared = manifest.dependencies?.['@herald/shared'];
  if (name !== 'shared' && !shared?.startsWith('^')) fail(`${manifest.name}: @herald/shared should be a caret range, is ${shared}`);
  run(path.join(root, 'node_modules/.bin/publint'), ['run', tarball, '--strict'], { cwd });
  // false-esm: from CommonJS, types resolve to the ESM declarations while `require` leads to require.cjs, on
  // purpose: TypeScript then says the package is ESM and cannot be required (TS1479), and Node throws saying how to import it.
  run(path.join(root, 'node_modules/.bin/attw'), [tarball, '--profile', 'esm-only', '--ignore-rules', 'false-esm', '--no-color', '--no-emoji'], { cwd });
  return `${path.basename(tarball)}: ${(statSync(tarball).size / 1024).toFixed(1)} KiB packed, ${files.length} files`;
}

// 3. A fresh npm project per combination of supported versions.
/** Starts the tour's server and resolves once it logs that it is listening. */
function startServer(node: string, cwd: string): Promise<{ stop: () => Promise<void>; output: () => string }> {
  const child = spawn(node, ['dist/server.js'], { cwd, env: userEnvironment, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      children.delete(child);
      resolve();
    }),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the tour's server did not start within ${RUN_TIMEOUT_MS} ms:\n${output}`));
    }, RUN_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!output.includes('"event":"server.listening"')) return;
      clearTimeout(timer);
      resolve({
        output: () => output,
        stop: async () => {
          child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the tour's server exited with ${code} before listening:\n${output}`));
    });
  });
}

function expectOutput(output: string, needle: string, what: string): void {
  if (!output.includes(needle)) fail(`${what} did not print "${needle}"; it printed:\n${output}`);
}

async function checkCombination(combination: Combination, work: string, tarballs: ReadonlyMap<string, string>): Promise<void> {
  const dir = path.join(work, combination.name);
  mkdirSync(dir);
  log(`scratch project ${combination.name}: ${dir}`);
  // @herald/shared comes in only as a dependency of server and client: its
  // tarball stands in for the registry through `overrides`.
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify(
      {
        name: `herald-release-check-${combination.name}`,
        private: true,
        type: 'module',
        overrides: { '@herald/shared': `file:${tarballs.get('shared')}`, ...combination.overrides },
      },
      null,
      2,
    )}\n`,
  );
  for (const file of readdirSync(TOUR)) copyFileSync(path.join(TOUR, file), path.join(dir, file));
  for (const file of readdirSync(SCRATCH_TEMPLATE)) copyFileSync(path.join(SCRATCH_TEMPLATE, file), path.join(dir, file));

  const install = [tarballs.get('server') ?? '', tarballs.get('client') ?? '', ...combination.dependencies];
  log(`npm install ${install.map((spec) => (spec.endsWith('.tgz') ? path.basename(spec) : spec)).join(' ')}`);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...install], { cwd: dir, timeoutMs: INSTALL_TIMEOUT_MS });
  const devDependencies = [...combination.devDependencies, `node@${combination.node}`];
  log(`npm install --save-dev ${devDependencies.join(' ')}`);
  run('npm', ['install', '--save-dev', '--no-audit', '--no-fund', '--loglevel=error', ...devDependencies], {
    cwd: dir,
    timeoutMs: INSTALL_TIMEOUT_MS,
  });
  // @herald/server's declarations without skipLibCheck and with no types but Node's: the server side of the
  // tour, before `ws` is installed, without the optional peers. (The client side needs `@types/ws` with
  // tRPC 11.22, whose own client declarations import `ws`: the whole tour compiles after `appTools`.)
  log(`tsc -p tsconfig.peerless.json: the tour's server side, before ${combination.appTools.join(' ')}`);
  run('npx', ['tsc', '-p', 'tsconfig.peerless.json'], { cwd: dir });
  run('npm', ['install', '--save-dev', '--no-audit', '--no-fund', '--loglevel=error', ...combination.appTools], { cwd: dir, timeoutMs: INSTALL_TIMEOUT_MS });
  // The tour runs on this Node, and so do tsc and npx here (npm puts node_modules/.bin first).
  const node = path.join(dir, 'node_modules', '.bin', 'node');
  if (!existsSync(node)) fail(`npm's node@${combination.node} package installed no node binary`);
  log(`node ${run(node, ['--version'], { cwd: dir, quiet: true }).trim()} (npm's node@${combination.node})`);
  log(
    `installed: ${run('npm', ['ls', '--depth=0'], { cwd: dir, quiet: true })
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.replace(/^[^@\w]+/, ''))
      .join(', ')}`,
  );
  for (const peer of OPTIONAL_PEERS) {
    if (existsSync(path.join(dir, 'node_modules', peer))) fail(`${peer} is installed, but nothing here asked for it`);
  }

  log(`tsc ${run('npx', ['tsc', '--version'], { cwd: dir, quiet: true }).trim()}`);
  // The whole tour, stock client included. Said, never silent, where a dependency's own declarations need skipLibCheck.
  const libCheck = combination.skipLibCheckFor ? ['--skipLibCheck'] : [];
  if (combination.skipLibCheckFor) log(`the whole tour with --skipLibCheck: ${combination.skipLibCheckFor}`);
  for (const typescript of combination.alsoTypecheckWith) {
    log(`tsc ${run('npx', ['--yes', '-p', typescript, 'tsc', '--version'], { cwd: dir, quiet: true }).trim()} (no emit)`);
    run('npx', ['--yes', '-p', typescript, 'tsc', '-p', '.', '--noEmit', ...libCheck], { cwd: dir, timeoutMs: INSTALL_TIMEOUT_MS });
  }
  run('npx', ['tsc', '-p', '.', ...libCheck], { cwd: dir });

  log('run the tour');
  const server = await startServer(node, dir);
  try {
    const client = run(node, ['dist/client.js'], { cwd: dir, timeoutMs: RUN_TIMEOUT_MS });
    expectOutput(client, 'hello', "the tour's client");
    const stock = run(node, ['dist/stock-client.js'], { cwd: dir, timeoutMs: RUN_TIMEOUT_MS });
    expectOutput(stock, 'published as', 'the stock-client example');
  } finally {
    await server.stop();
  }
  const refused = run(node, ['dist/missing-prom-client.js'], { cwd: dir, timeoutMs: RUN_TIMEOUT_MS });
  expectOutput(refused, 'refused as expected', 'a server with metrics on and no prom-client');
  for (const name of ['@herald/server', '@herald/client']) {
    const script = `try { require('${name}'); console.log('loaded'); } catch (error) { console.log(error.code, error.message); }`;
    const required = run(node, ['--input-type=commonjs', '-e', script], { cwd: dir, timeoutMs: RUN_TIMEOUT_MS });
    expectOutput(required, `ERR_REQUIRE_ESM ${name} is an ES module package`, `require('${name}')`);
  }
}

const combinations = COMBINATIONS.filter((combination) => !only || combination.name === only);
const work = mkdtempSync(path.join(tmpdir(), 'herald-release-'));
try {
  if (combinations.length === 0) fail(`no combination named ${only}`);
  const tarballDir = path.join(work, 'tarballs');
  mkdirSync(tarballDir);
  const tarballs = buildAndPack(tarballDir);
  const sizes = [...tarballs].map(([name, tarball]) => checkTarball(name, tarball));
  for (const combination of combinations) await checkCombination(combination, work, tarballs);
  for (const line of sizes) log(line);
  log(`release:check passed: ${tarballs.size} tarballs, ${combinations.map((c) => c.name).join(' and ')} versions, in ${Math.round((Date.now() - started) / 1000)} s`);
} catch (error) {
  process.stderr.write(`release:check: ${error instanceof CheckFailure ? error.message : String(error instanceof Error ? error.stack : error)}\n`);
  process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGKILL');
  if (keep) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
