import { fmt } from '../lib/log.js';
import { baselineOf, type DeflateRow } from '../scenarios/deflate.js';

/** A compressed run against the uncompressed run of its message size; null for a baseline (or one missing). */
export function versusUncompressed(rows: readonly DeflateRow[], row: DeflateRow): { cpu: number; bytes: number; rssKiB: number } | null {
  const base = baselineOf(rows, row);
  if (!row.variant.compression || !base) return null;
  return {
    cpu: row.measurement.cpuUsPerEvent.value / base.measurement.cpuUsPerEvent.value,
    bytes: row.measurement.wireBytesPerEvent / base.measurement.wireBytesPerEvent,
    rssKiB: (row.rssPerConnection - base.rssPerConnection) / 1024,
  };
}

/** Each compressed run against the uncompressed run of the same message size, one line each. */
export function deflateSummaryLines(rows: readonly DeflateRow[]): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    const versus = versusUncompressed(rows, row);
    if (!versus) continue;
    lines.push(
      `permessage-deflate, ${row.variant.payloadBytes.toLocaleString('en-US')}-byte messages, ${row.variant.label}: ` +
        `server CPU/delivery ${fmt(versus.cpu)}x, wire bytes/delivery ${fmt(versus.bytes)}x of uncompressed, ` +
        `${versus.rssKiB >= 0 ? '+' : ''}${fmt(versus.rssKiB)} KiB RSS per connection`,
    );
  }
  return lines;
}
