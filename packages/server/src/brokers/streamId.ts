/**
 * Positions in a channel's history are Redis-stream style ids, `<ms>-<seq>`:
 * a millisecond timestamp and a counter within it. Every broker issues ids of
 * this form, so they order the same way everywhere (Redis issues them itself;
 * the memory broker imitates it) and a position from one broker kind is at
 * least comparable in another.
 */
export interface StreamId {
  readonly ms: number;
  readonly seq: number;
}

const ID_PATTERN = /^(\d{1,16})-(\d{1,16})$/;

export function parseStreamId(text: string): StreamId | null {
  const match = ID_PATTERN.exec(text);
  if (!match) return null;
  const ms = Number(match[1]);
  const seq = Number(match[2]);
  if (!Number.isSafeInteger(ms) || !Number.isSafeInteger(seq)) return null;
  return { ms, seq };
}

export function formatStreamId(id: StreamId): string {
  return `${id.ms}-${id.seq}`;
}

export function compareStreamIds(a: StreamId, b: StreamId): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.seq - b.seq;
}

/** The position before any message: resuming from it replays everything retained. */
export const ZERO_ID: StreamId = { ms: 0, seq: 0 };

/** The next id after `last` at wall-clock time `nowMs`, never going backwards. */
export function nextStreamId(last: StreamId, nowMs: number): StreamId {
  return nowMs > last.ms ? { ms: nowMs, seq: 0 } : { ms: last.ms, seq: last.seq + 1 };
}
