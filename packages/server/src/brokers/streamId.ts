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

/** The greatest id before `id` (a resume from it replays `id` itself). */
export function previousStreamId(id: StreamId): StreamId {
  return id.seq > 0 ? { ms: id.ms, seq: id.seq - 1 } : { ms: Math.max(0, id.ms - 1), seq: Number.MAX_SAFE_INTEGER };
}

/** The next id after `last` at wall-clock time `nowMs`, never going backwards. */
export function nextStreamId(last: StreamId, nowMs: number): StreamId {
  return nowMs > last.ms ? { ms: nowMs, seq: 0 } : { ms: last.ms, seq: last.seq + 1 };
}
