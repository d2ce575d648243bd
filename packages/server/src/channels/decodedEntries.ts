import { transformer } from '@herald/shared';
import type { BrokerEntry } from '../brokers/broker.js';

/** What a Herald keeps of decoded history entries at most, counted as `DecodedEntries` weighs them. */
export const DECODED_ENTRIES_BYTES = 16 * 1024 * 1024;

/** What an entry costs besides its text: its key, its map slot, the record and the decoded value's objects, roughly. */
const ENTRY_OVERHEAD = 128;

interface Decoded {
  /** The stored text the value was decoded from: an entry is only ever served for the same text. */
  readonly data: string;
  readonly value: unknown;
  readonly weight: number;
}

/**
 * History entries decoded once per node and shared by every read of them:
 * `history()` and a subscription's replay decode each stored message they
 * read, and many reads of one topic (a batch of `history` calls, a room's
 * subscribers resuming after a broker outage) read the same messages. Each
 * decoded message is kept under its topic and stream id, most recently read
 * last, and the least recently read are dropped once the whole weighs more
 * than `maxBytes` (twice an entry's text, which it holds and the decoded
 * value roughly repeats, plus `ENTRY_OVERHEAD`).
 *
 * A kept value is returned only for an entry whose text is the same as the
 * one it was decoded from, so a stream id reused after its topic was cleared
 * is decoded again. Readers share the values, as every local subscriber
 * shares a live message (fanout.ts): they are not to be changed in place.
 */
export class DecodedEntries {
  private readonly entries = new Map<string, Decoded>();
  private bytes = 0;

  constructor(private readonly maxBytes: number = DECODED_ENTRIES_BYTES) {}

  /** `entry`'s message, decoded now or by an earlier read of it. */
  decode<T>(topic: string, entry: BrokerEntry): T {
    const key = `${topic}\n${entry.id}`;
    const kept = this.entries.get(key);
    if (kept !== undefined) {
      this.entries.delete(key);
      if (kept.data === entry.data) {
        this.entries.set(key, kept);
        return kept.value as T;
      }
      this.bytes -= kept.weight;
    }
    const value = transformer.parse<T>(entry.data);
    const weight = entry.data.length * 2 + ENTRY_OVERHEAD;
    if (weight <= this.maxBytes) {
      this.entries.set(key, { data: entry.data, value, weight });
      this.bytes += weight;
      this.evict();
    }
    return value;
  }

  /** Entries kept now, and what they weigh (bytes). */
  get size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private evict(): void {
    for (const [key, kept] of this.entries) {
      if (this.bytes <= this.maxBytes) return;
      this.entries.delete(key);
      this.bytes -= kept.weight;
    }
  }
}
