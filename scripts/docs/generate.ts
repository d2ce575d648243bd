/**
 * Fills the generated regions of the docs from the source's JSDoc and the
 * included code regions from their files, and checks the docs' relative links.
 *
 *   pnpm docs:gen     rewrite every region that is out of date
 *   pnpm docs:check   change nothing; exit 1 naming each stale page or broken link
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokenLinks } from './links.js';
import { fillIncludes, fillRegions, regionSpecs } from './regions.js';
import { SourceTables } from './tables.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const check = process.argv.includes('--check');

/** The pages the generator owns: the README, docs/ (not the typedoc output), the published packages' READMEs and the demo's README. */
function pages(): string[] {
  const docs = path.join(root, 'docs');
  const found = [path.join(root, 'README.md')];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && full !== path.join(docs, 'api')) walk(full);
      else if (entry.isFile() && entry.name.endsWith('.md')) found.push(full);
    }
  };
  walk(docs);
  for (const name of ['shared', 'server', 'client']) {
    const readme = path.join(root, 'packages', name, 'README.md');
    if (existsSync(readme)) found.push(readme);
  }
  const demo = path.join(root, 'examples/chat-server/README.md');
  if (existsSync(demo)) found.push(demo);
  return found;
}

/** The GitHub address every published package's manifest gives as its `repository` (they must agree). */
function repositoryOf(names: readonly string[]): string {
  const urls = new Set(
    names.map((name) => {
      const manifest = JSON.parse(readFileSync(path.join(root, 'packages', name, 'package.json'), 'utf8')) as { repository?: { url?: string } };
      return (manifest.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '');
    }),
  );
  const [url] = urls;
  if (urls.size !== 1 || !url?.startsWith('https://github.com/')) {
    throw new Error(`docs: packages/{${names.join(',')}}/package.json must share one repository.url on GitHub, found ${[...urls].join(', ') || 'none'}`);
  }
  return url;
}

const files = pages();
const texts = new Map(files.map((file) => [file, readFileSync(file, 'utf8')]));
const sources = [...new Set([...texts.values()].flatMap((text) => regionSpecs(text).map((spec) => spec.file)))];
const tables = new SourceTables(root, sources);

const stale: string[] = [];
for (const [file, text] of texts) {
  const filled = fillIncludes(
    fillRegions(text, (spec) => tables.render(spec)),
    (included) => readFileSync(path.join(root, included), 'utf8'),
  );
  if (filled === text) continue;
  stale.push(path.relative(root, file));
  if (!check) writeFileSync(file, filled);
}

const broken = brokenLinks(root, files, {
  repository: repositoryOf(['shared', 'server', 'client']),
  packaged: files.filter((file) => /packages[\\/](shared|server|client)[\\/]README\.md$/.test(file)),
});
for (const problem of broken) console.error(problem);

if (check) {
  for (const file of stale) console.error(`${file}: generated tables or included code are out of date; run pnpm docs:gen`);
  if (stale.length > 0 || broken.length > 0) process.exit(1);
  process.stdout.write(`docs:check: ${files.length} pages, generated tables, included code and links up to date\n`);
} else {
  process.stdout.write(stale.length > 0 ? `docs:gen: rewrote ${stale.join(', ')}\n` : 'docs:gen: nothing to change\n');
  if (broken.length > 0) process.exit(1);
}
