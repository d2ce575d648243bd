import type { CSSProperties } from 'react';

const HUES = [210, 260, 330, 20, 145, 180, 45, 290];

function hueOf(id: string): number {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  return HUES[Math.abs(hash) % HUES.length] ?? 210;
}

export function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]?.[0], words.at(-1)?.[0]] : [words[0]?.[0], words[0]?.[1]];
  return letters.filter(Boolean).join('').toUpperCase() || '?';
}

/** Initials on a color picked from the user's id, so a person keeps one color everywhere. */
export function Avatar({ name, id, size = 'md' }: { name: string; id: string; size?: 'sm' | 'md' }) {
  return (
    <span className={`avatar avatar--${size}`} style={{ '--hue': hueOf(id) } as CSSProperties} aria-hidden="true">
      {initialsOf(name)}
    </span>
  );
}
