/** How the page writes numbers: short, and the same everywhere. */

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

export const formatCount = (value: number): string => integer.format(value);

export const formatRate = (value: number): string => (value >= 100 ? integer.format(value) : decimal.format(value));

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${decimal.format(bytes / 1024 ** 3)} GiB`;
  if (bytes >= 1024 ** 2) return `${decimal.format(bytes / 1024 ** 2)} MiB`;
  return `${decimal.format(bytes / 1024)} KiB`;
}

export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export const formatMs = (ms: number): string => `${decimal.format(ms)} ms`;

export const formatTime = (at: number): string => new Date(at).toLocaleString();

const clock = new Intl.DateTimeFormat('en', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

/** A time of day to the second (`21:40:05`): when figures were taken. */
export const formatClock = (at: number): string => clock.format(at);
