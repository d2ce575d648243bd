// The admin page cost's section of bench/results.md: written by
// `pnpm bench:admin` (adminCost.ts) between these markers, and carried over
// as it is when `pnpm bench` rewrites the rest of the page.

export const ADMIN_COST_START = '<!-- admin-cost:start (written by pnpm bench:admin) -->';
export const ADMIN_COST_END = '<!-- admin-cost:end -->';

/** results.md with `section` between the markers, or appended when it has none yet. */
export function withAdminCostSection(page: string, section: string): string {
  const start = page.indexOf(ADMIN_COST_START);
  const end = page.indexOf(ADMIN_COST_END);
  if (start === -1 || end === -1) return `${page.trimEnd()}\n\n${section}\n`;
  return `${page.slice(0, start)}${section}${page.slice(end + ADMIN_COST_END.length)}`;
}

/** The section between the markers in `page`, or null. */
export function adminCostSectionOf(page: string): string | null {
  const start = page.indexOf(ADMIN_COST_START);
  const end = page.indexOf(ADMIN_COST_END);
  return start === -1 || end === -1 ? null : page.slice(start, end + ADMIN_COST_END.length);
}
