/**
 * axe-core in a Chromium page: its source is evaluated in the page (through
 * the DevTools protocol, so the page's Content Security Policy does not block
 * it), then `axe.run` checks WCAG 2.1 A and AA and axe's best practices.
 * A test fails with every violation listed: rule, impact, the elements and
 * what axe says to fix.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

interface Violation {
  readonly id: string;
  readonly impact: string | null;
  readonly help: string;
  readonly nodes: readonly { readonly target: readonly unknown[]; readonly failureSummary?: string }[];
}

/** The page's axe violations, one line each (with at most 5 of its elements), or [] for none. */
export async function axeViolations(page: Page): Promise<string[]> {
  const loaded = await page.evaluate(() => 'axe' in window);
  if (!loaded) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<{ violations: unknown[] }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations;
  }, TAGS);
  return (violations as Violation[]).map((violation) => {
    const nodes = violation.nodes.slice(0, 5).map((node) => `${node.target.join(' ')}${node.failureSummary ? ` (${node.failureSummary.replace(/\s+/g, ' ')})` : ''}`);
    return `${violation.id} [${violation.impact ?? '?'}] ${violation.help}: ${violation.nodes.length} element(s): ${nodes.join('; ')}`;
  });
}
