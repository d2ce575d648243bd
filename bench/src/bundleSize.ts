// What a browser downloads for a client: `pnpm bench:size` bundles small
// apps (Herald's client three ways, tRPC's, socket.io's, and what Herald's
// client imports from other packages alone) with esbuild, minified for the
// browser as an app's build would, and reports each one's minified and
// gzipped size. It writes the table into bench/results.md
// between the `bundle-size` markers (which `pnpm bench` keeps) and prints it.
//
// Herald's client is bundled from its build (`dist/`, what npm users get), so
// `pnpm build` runs first (the `bench:size` script does it).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import { BUNDLE_SIZE_END, BUNDLE_SIZE_START, withBundleSizeSection } from './report/bundleSizeSection.js';

const benchDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const resultsFile = join(benchDir, 'results.md');


interface App {
  readonly name: string;
  readonly source: string;
  /** Bundle `@trpc/client` as if its package.json said `"sideEffects": false` (what its barrel costs an app that does not use tRPC's links). */
  readonly trpcClientWithoutSideEffects?: boolean;
}

const websocketOnlySource = `
      import { createHeraldClient } from '@herald/client';
      const client = createHeraldClient({ url: 'ws://localhost:8787/ws', transport: 'websocket' });
      client.trpc.add.query({ a: 1, b: 2 }).then((sum) => console.log(sum));
    `;

const heraldWebSocketOnly: App = {
  name: "Herald: `createHeraldClient`, `transport: 'websocket'`, one query",
  source: websocketOnlySource,
};

const heraldWithoutTrpcSideEffects: App = {
  // `TRPCClientError` (the class every call's error must be) comes only
  // from @trpc/client's main entry, whose modules bundlers must keep for
  // their top-level statements (tRPC's own WebSocket connection class and
  // async generator helper among them).
  name: 'Herald: the same, were `@trpc/client` marked `"sideEffects": false` (it is not)',
  source: websocketOnlySource,
  trpcClientWithoutSideEffects: true,
};

const heraldAuto: App = {
  name: "Herald: `createHeraldClient`, `transport: 'auto'` with `@herald/client/http`, one query",
  source: `
      import { createHeraldClient } from '@herald/client';
      import { httpTransport } from '@herald/client/http';
      const client = createHeraldClient({ url: 'ws://localhost:8787/ws', transport: 'auto', http: httpTransport });
      client.trpc.add.query({ a: 1, b: 2 }).then((sum) => console.log(sum));
    `,
};

const trpcWsLink: App = {
  name: 'tRPC: `createTRPCClient` + `wsLink` + superjson, one query',
  source: `
      import { createTRPCClient, createWSClient, wsLink } from '@trpc/client';
      import superjson from 'superjson';
      const client = createTRPCClient({ links: [wsLink({ client: createWSClient({ url: 'ws://localhost:8787/ws' }), transformer: superjson })] });
      client.add.query({ a: 1, b: 2 }).then((sum) => console.log(sum));
    `,
};

const socketIo: App = {
  name: 'socket.io-client: `io()`, one emit with an acknowledgement',
  source: `
      import { io } from 'socket.io-client';
      const socket = io('ws://localhost:8787', { transports: ['websocket'] });
      socket.emit('add', { a: 1, b: 2 }, (sum) => console.log(sum));
    `,
};

interface Size {
  readonly name: string;
  readonly minified: number;
  readonly gzipped: number;
}

/** Marks every module of `@trpc/client` free of side effects, as `"sideEffects": false` in its package.json would. */
const trpcClientWithoutSideEffects: Plugin = {
  name: 'trpc-client-without-side-effects',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === trpcClientWithoutSideEffects) return undefined;
      const resolved = await pluginBuild.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: trpcClientWithoutSideEffects,
      });
      if (resolved.errors.length > 0 || !/[\\/]@trpc[\\/]client[\\/]/.test(resolved.path)) return undefined;
      return { path: resolved.path, sideEffects: false };
    });
  },
};

interface Bundle {
  readonly size: Size;
  /** The files esbuild put into the bundle, relative to the bench package. */
  readonly inputs: readonly string[];
}

async function measure(app: App, workDir: string): Promise<Bundle> {
  const entry = join(workDir, `${app.name.replace(/\W+/g, '-')}.ts`);
  writeFileSync(entry, app.source);
  const result = await build({
    entryPoints: [entry],
    // Resolved from the bench package, whose dependencies include every client measured.
    nodePaths: [join(benchDir, 'node_modules')],
    absWorkingDir: benchDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
    plugins: app.trpcClientWithoutSideEffects ? [trpcClientWithoutSideEffects] : [],
  });
  const [output, ...others] = result.outputFiles;
  if (!output || others.length > 0) throw new Error(`esbuild made ${result.outputFiles.length} files for ${app.name}, expected one`);
  return {
    size: { name: app.name, minified: output.contents.length, gzipped: gzipSync(output.contents, { level: 9 }).length },
    inputs: Object.keys(result.metafile.inputs),
  };
}

/** `import { a, b as c } from 'package';` in a module of Herald's build (tsc writes one such line per import). */
const packageImport = /^import \{([^}]*)\} from '([^'.#][^']*)';$/gm;

/**
 * An app that uses exactly what the Herald modules of `heraldApp`'s bundle
 * import from other packages (tRPC, superjson), and none of Herald's own
 * code: the part of Herald's bundle that Herald's code cannot make smaller.
 * Derived from the bundle, so it follows the client's imports as they change.
 */
function importsOnlyApp(heraldApp: Bundle): App {
  const names = new Map<string, Set<string>>();
  for (const input of heraldApp.inputs) {
    if (!/[\\/]packages[\\/](client|shared)[\\/]dist[\\/]/.test(input)) continue;
    for (const [, list, from] of readFileSync(join(benchDir, input), 'utf8').matchAll(packageImport)) {
      if (from!.startsWith('@herald/')) continue;
      const imported = names.get(from!) ?? new Set<string>();
      for (const specifier of list!.split(',')) {
        const name = specifier.trim().split(/\s+as\s+/)[0];
        if (name) imported.add(name);
      }
      names.set(from!, imported);
    }
  }
  if (names.size === 0) throw new Error("found no imports of other packages in Herald's bundled modules: is packageImport out of date with tsc's output?");
  const all = [...names.values()].flatMap((set) => [...set]);
  return {
    name: `What Herald's client imports from tRPC and superjson, alone (${all.map((name) => `\`${name}\``).join(', ')})`,
    source: [...[...names].map(([from, set]) => `import { ${[...set].join(', ')} } from '${from}';`), `console.log(${all.join(', ')});`].join('\n'),
  };
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

function table(sizes: readonly Size[], budget: string, versions: string): string {
  return [
    BUNDLE_SIZE_START,
    '## Browser bundle size',
    '',
    `Written by \`pnpm bench:size\` (bench/src/bundleSize.ts): each app is one query (or emit) over a WebSocket, bundled by esbuild for the browser, minified; gzip at level 9. Herald's client is bundled from its build, as npm users get it; its HTTP fallback is the separate entry \`@herald/client/http\`, which only an app on \`transport: 'http'\` or \`'auto'\` imports. The second row bundles the first app as if \`@trpc/client\` declared \`"sideEffects": false\`: Herald takes only \`TRPCClientError\` (the class of every call's error) from its main entry, whose top-level statements a bundler must otherwise keep (tRPC's own WebSocket connection class and async generator helper among them), so the difference is what that entry costs an app that uses none of tRPC's links. The third row is an app that uses exactly what the first app's Herald modules import from other packages (read from their import lines) and no Herald code: the part of the first app that Herald's own code cannot make smaller. ${versions}`,
    '',
    '| app | minified | gzipped |',
    '|---|---|---|',
    ...sizes.map(({ name, minified, gzipped }) => `| ${name} | ${kib(minified)} | ${kib(gzipped)} |`),
    '',
    budget,
    BUNDLE_SIZE_END,
  ].join('\n');
}

/** What Herald's own code adds to what it imports, against what tRPC's bundle leaves for it, gzipped. */
function budgetLine(herald: Size, importsOnly: Size, trpc: Size): string {
  const own = herald.gzipped - importsOnly.gzipped;
  const room = trpc.gzipped - importsOnly.gzipped;
  return `Gzipped, Herald's own code adds ${kib(own)} to what it imports (first row less third); for the first row to be at most tRPC's, it could add ${kib(room)} (tRPC's row less the third), ${Math.round((100 * (own - room)) / own)}% less.`;
}

function versionOf(name: string): string {
  const file = join(benchDir, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'herald-bundle-size-'));
  try {
    const herald = await measure(heraldWebSocketOnly, workDir);
    const importsOnly = await measure(importsOnlyApp(herald), workDir);
    const trpc = await measure(trpcWsLink, workDir);
    // Each app is one query (or emit) over a WebSocket to the same server; the table's text refers to the first three rows by position.
    const sizes = [herald, await measure(heraldWithoutTrpcSideEffects, workDir), importsOnly, await measure(heraldAuto, workDir), trpc, await measure(socketIo, workDir)].map(
      (bundle) => bundle.size,
    );
    const versions = `Versions: esbuild ${versionOf('esbuild')}, @trpc/client ${versionOf('@trpc/client')}, superjson ${versionOf('superjson')}, socket.io-client ${versionOf('socket.io-client')}.`;
    const section = table(sizes, budgetLine(herald.size, importsOnly.size, trpc.size), versions);
    writeFileSync(resultsFile, withBundleSizeSection(readFileSync(resultsFile, 'utf8'), section));
    console.log(section);
    console.log(`\nwritten to ${relative(process.cwd(), resultsFile)}`);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
