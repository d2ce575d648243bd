// The browser bundle sizes' section of bench/results.md: written by
// `pnpm bench:size` (bundleSize.ts) between these markers, and carried over
// as it is when `pnpm bench` rewrites the rest of the page.

export const BUNDLE_SIZE_START = '<!-- bundle-size:start (written by pnpm bench:size) -->';
export const BUNDLE_SIZE_END = '<!-- bundle-size:end -->';

/** results.md with `section` between the markers, or appended when it has none yet. */
export function withBundleSizeSection(page: string, section: string): string {
  const start = page.indexOf(BUNDLE_SIZE_START);
  const end = page.indexOf(BUNDLE_SIZE_END);
  if (start === -1 || end === -1) return `${page.trimEnd()}\n\n${section}\n`;
  return `${page.slice(0, start)}${section}${page.slice(end + BUNDLE_SIZE_END.length)}`;
}

/** The section between the markers in `page`, or null: `pnpm bench` carries it over when it rewrites the page. */
export function bundleSizeSectionOf(page: string): string | null {
  const start = page.indexOf(BUNDLE_SIZE_START);
  const end = page.indexOf(BUNDLE_SIZE_END);
  return start === -1 || end === -1 ? null : page.slice(start, end + BUNDLE_SIZE_END.length);
}
