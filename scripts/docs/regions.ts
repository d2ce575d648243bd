/**
 * The generated regions of a Markdown page:
 *
 *   <!-- generated: packages/server/src/options.ts#HeraldServerOptions -->
 *   ...table written by the generator...
 *   <!-- /generated -->
 *
 * A spec is `<file>#<Name>`, then optional words: `+OTHER` adds a column read
 * from another `as const` object with the same keys (an `as const` table only),
 * `level=N` sets the heading level of nested option tables (default 4), and
 * `members` lists an object's members (methods too) without a default column.
 */

export interface RegionSpec {
  /** Source file, relative to the repository root. */
  readonly file: string;
  /** The exported interface, type alias or `as const` object to document. */
  readonly name: string;
  /** Further `as const` objects whose values become extra columns, by key. */
  readonly joins: readonly string[];
  /** Heading level of the tables for nested option interfaces. */
  readonly level: number;
  /** A table of members (an object a call returns), not of options. */
  readonly members: boolean;
}

const REGION = /(<!-- generated: ([^>]*?) -->)\n[\s\S]*?(<!-- \/generated -->)/g;

export function parseSpec(text: string): RegionSpec {
  const [target = '', ...words] = text.trim().split(/\s+/);
  const hash = target.indexOf('#');
  if (hash <= 0 || hash === target.length - 1) throw new Error(`Bad generated-region spec "${text}": expected <file>#<Name>`);
  const joins: string[] = [];
  let level = 4;
  let members = false;
  for (const word of words) {
    if (word.startsWith('+')) joins.push(word.slice(1));
    else if (word === 'members') members = true;
    else if (/^level=[2-6]$/.test(word)) level = Number(word.slice('level='.length));
    else throw new Error(`Bad generated-region option "${word}" in "${text}"`);
  }
  return { file: target.slice(0, hash), name: target.slice(hash + 1), joins, level, members };
}

/** Every region spec in a page, in order. */
export function regionSpecs(markdown: string): RegionSpec[] {
  return [...markdown.matchAll(REGION)].map((match) => parseSpec(match[2] ?? ''));
}

/** The page with every region's body replaced by what `render` makes of its spec. */
export function fillRegions(markdown: string, render: (spec: RegionSpec) => string): string {
  return markdown.replace(REGION, (_all, open: string, spec: string, close: string) => `${open}\n${render(parseSpec(spec)).trimEnd()}\n${close}`);
}

/**
 * Included code: a source file's text as a fenced block, so the code a page
 * shows is the code a check compiles and runs (the README's tour is
 * docs/tour/*.ts, run by `pnpm release:check`):
 *
 *   <!-- include: docs/tour/server.ts -->
 *   ...the file, fenced, written by the generator...
 *   <!-- /include -->
 */
const INCLUDE = /(<!-- include: ([^>]*?) -->)\n[\s\S]*?(<!-- \/include -->)/g;

const FENCE_LANGUAGE: Readonly<Record<string, string>> = { '.ts': 'ts', '.tsx': 'tsx', '.js': 'js', '.mjs': 'js', '.sh': 'sh', '.json': 'json' };

/** The page with every include region's body replaced by its file, fenced; `read` gets the path relative to the repository root. */
export function fillIncludes(markdown: string, read: (file: string) => string): string {
  return markdown.replace(INCLUDE, (_all, open: string, spec: string, close: string) => {
    const file = spec.trim();
    const extension = /\.[a-z]+$/.exec(file)?.[0] ?? '';
    const text = read(file).trimEnd();
    if (text.includes('```')) throw new Error(`${file}: an included file must not contain a Markdown fence`);
    return `${open}\n\`\`\`${FENCE_LANGUAGE[extension] ?? ''}\n${text}\n\`\`\`\n${close}`;
  });
}
