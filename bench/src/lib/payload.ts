/**
 * The one message every system serves: `{ n, sentAt, text }`, whose JSON is
 * exactly `PAYLOAD_BYTES` long. `sentAt` is the publish time on a clock both
 * processes share (wall-clock origin plus the monotonic clock), so the receiver
 * computes publish-to-receive latency from it.
 */
export const PAYLOAD_BYTES = 219;

export interface BenchMessage {
  readonly n: number;
  readonly sentAt: number;
  readonly text: string;
}

/** Milliseconds on the clock every bench process shares (µs resolution). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const FILLER = 'The quick brown fox jumps over the lazy dog; Herald bench payload. '.repeat(4);

export function makeMessage(n: number, sentAt: number = nowMs()): BenchMessage {
  // `${number}` and JSON.stringify(number) print numbers the same way.
  const overhead = `{"n":${n},"sentAt":${sentAt},"text":""}`.length;
  return { n, sentAt, text: FILLER.slice(0, Math.max(0, PAYLOAD_BYTES - overhead)) };
}
