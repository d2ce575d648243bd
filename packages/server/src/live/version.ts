import { parseStreamId } from '../brokers/streamId.js';

/** Bits below a head's `ms` in its number: a `seq` is a safe integer. */
const SEQ_BITS = 53n;

/**
 * A live result's version: the sum, over the query's dependencies, of each
 * dependency topic's head read just before the result was computed, with a
 * head `<ms>-<seq>` counted as `ms * 2^53 + seq` (a stream id's order: a
 * parsed `seq` is a safe integer, below 2^53; the Redis broker reports an
 * empty topic's head as `<now - 1>-<MAX_SEQ>`, so the bound matters). A
 * head only grows, so the sum only grows as publishes land, whichever node reads it; and a
 * result of version V was computed after every publish counted in V was
 * stored, so it reflects at least that state. Two nodes reading the same
 * heads give the same version: a client that moves node with the current
 * version is sent nothing.
 *
 * Written in decimal it is about 29 digits for one dependency, and one more
 * per tenfold more dependencies: well within `lastEventId`'s 64 characters.
 */
export function versionOf(heads: readonly string[]): bigint {
  let sum = 0n;
  for (const head of heads) {
    const id = parseStreamId(head);
    if (!id) throw new Error(`broker reported a malformed head id: ${head}`);
    sum += (BigInt(id.ms) << SEQ_BITS) + BigInt(id.seq);
  }
  return sum;
}

const VERSION_TEXT = /^\d{1,64}$/;

/** The version a client sent back as `lastEventId`, or null when it sent none (or something that is not a version). */
export function parseVersion(text: string | null | undefined): bigint | null {
  if (text == null || !VERSION_TEXT.test(text)) return null;
  return BigInt(text);
}
