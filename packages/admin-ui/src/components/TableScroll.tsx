import type { ReactNode } from 'react';

/**
 * A table's horizontal scroller (narrow screens): a named region that takes
 * focus, so it scrolls with the arrow keys too (axe's
 * `scrollable-region-focusable`); its name differs from its section's, as
 * landmarks' names must.
 */
export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={`${label} (scrolls sideways)`}>
      {children}
    </div>
  );
}
