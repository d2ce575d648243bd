import { fmt } from '../lib/log.js';
import { baselineOf, type DeflateRow } from '../scenarios/deflate.js';

/** Each compressed run against the uncompressed run of the same message size, one line each. */
export function deflateSummaryLines(rows: readonly DeflateRow[]): string[] {
  const lines: string[] = [];
  for (const row of rows) {
    const base = baselineOf(rows, row);
    if (!row.variant.compression || !base) continue;
    const cpu = row.measurement.cpuUsPerEvent.value / base.measurement.cpuUsPerEvent.value;
    const bytes = row.measurement.wireBytesPerEvent / base.measurement.wireBytesPerEvent;
    const memory = (row.rssPerConnection - base.rssPerConnection) / 1024;
    lines.push(
      `permessage-deflate, ${row.variant.payloadBytes.toLocaleString('en-US')}-byte messages, ${row.variant.label}: ` +
        `server CPU/delivery ${fmt(cpu)}x, wire bytes/delivery ${fmt(bytes)}x of uncompressed, ` +
        `${memory >= 0 ? '+' : ''}${fmt(memory)} KiB RSS per connection`,
    );
  }
  return lines;
}
