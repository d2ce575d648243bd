/**
 * Checks that the relative links of Markdown pages lead somewhere: the file
 * or folder exists and, for `page.md#anchor`, the page has a heading with
 * that GitHub anchor. Links into this repository on GitHub
 * (`<repository>/blob/main/...`, `/tree/main/...`) are checked as the local
 * file they name; links to other sites are not followed. A published
 * package's README is read on the registry, outside the repository: its
 * links may not leave the package's folder except through the repository's
 * address.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import GithubSlugger from 'github-slugger';
import MarkdownIt from 'markdown-it';
import type Token from 'markdown-it/lib/token.mjs';

const markdown = new MarkdownIt({ html: true });

/** Where the repository is on GitHub, and the pages that are published apart from it. */
export interface LinkRules {
  /** `https://github.com/<owner>/<name>`, from the packages' `repository` field. */
  readonly repository: string;
  /** The published packages' READMEs (absolute paths). */
  readonly packaged: readonly string[];
}

/** Problems found in `files` (absolute paths), one line each, naming the page relative to `root`. */
export function brokenLinks(root: string, files: readonly string[], rules: LinkRules): string[] {
  const inRepository = new RegExp(`^${rules.repository.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(?:blob|tree)/main/`);
  const anchors = new Map<string, Set<string>>();
  const anchorsOf = (file: string): Set<string> => {
    let found = anchors.get(file);
    if (!found) {
      found = headingAnchors(markdown.parse(readFileSync(file, 'utf8'), {}));
      anchors.set(file, found);
    }
    return found;
  };

  const problems: string[] = [];
  for (const file of files) {
    const where = path.relative(root, file);
    const packageDir = rules.packaged.includes(file) ? path.dirname(file) : null;
    for (const href of linkTargets(markdown.parse(readFileSync(file, 'utf8'), {}))) {
      const local = href.replace(inRepository, '');
      if (local === href && /^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // https:, mailto:, ...
      const [target = '', anchor] = local.split('#', 2);
      const base = local === href ? path.dirname(file) : root;
      const resolved = target === '' ? file : path.resolve(base, decodeURIComponent(target));
      if (packageDir && local === href && !resolved.startsWith(packageDir + path.sep) && resolved !== packageDir) {
        problems.push(`${where}: link to ${href}: a published README's links leave the package only as ${rules.repository}/blob/main/...`);
      } else if (!existsSync(resolved)) {
        problems.push(`${where}: link to ${href}: no such file`);
      } else if (anchor !== undefined && resolved.endsWith('.md') && statSync(resolved).isFile() && !anchorsOf(resolved).has(anchor)) {
        problems.push(`${where}: link to ${href}: no heading with that anchor in ${path.relative(root, resolved)}`);
      }
    }
  }
  return problems;
}

function linkTargets(tokens: readonly Token[]): string[] {
  const targets: string[] = [];
  for (const token of tokens) {
    if (token.type === 'link_open') {
      const href = token.attrGet('href');
      if (href) targets.push(href);
    }
    if (token.children) targets.push(...linkTargets(token.children));
  }
  return targets;
}

/** The anchors GitHub gives a page's headings (repeats numbered as GitHub numbers them). */
function headingAnchors(tokens: readonly Token[]): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  tokens.forEach((token, index) => {
    if (token.type !== 'heading_open') return;
    const inline = tokens[index + 1];
    const text = (inline?.children ?? [])
      .filter((child) => child.type === 'text' || child.type === 'code_inline')
      .map((child) => child.content)
      .join('');
    anchors.add(slugger.slug(text));
  });
  return anchors;
}
