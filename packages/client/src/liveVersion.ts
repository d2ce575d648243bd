/**
 * Whether live version `a` is newer than `b`. Versions are non-negative
 * integers in decimal without leading zeros (Herald's `herald.live`), so a
 * longer one is larger, and equal lengths compare as text.
 */
export function isNewerVersion(a: string, b: string | null): boolean {
  if (b === null) return true;
  return a.length !== b.length ? a.length > b.length : a > b;
}
