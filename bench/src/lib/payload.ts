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
  /** A binary payload (`ServerConfig.binaryBytes`; Herald only). */
  readonly bytes?: Uint8Array<ArrayBuffer>;
}

/**
 * The RPC echo scenario's call input, which the server returns as it came: a
 * small object of the kind an app's calls carry (62 bytes of JSON).
 */
export const ECHO_INPUT: { id: number; user: string; text: string; tags: string[]; ok: boolean } = {
  id: 4242,
  user: 'ada',
  text: 'hello',
  tags: ['a'],
  ok: true,
};

/** Milliseconds on the clock every bench process shares (µs resolution). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

const FILLER = 'The quick brown fox jumps over the lazy dog; Herald bench payload. '.repeat(4);

/**
 * Words for messages longer than `FILLER`: text drawn anew for every message
 * (a repeated sentence would compress far better than real traffic does).
 */
const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she ' +
  'there been one all we their has would when if so no will more out up into do any your what some can only other new time could ' +
  'channel message server client socket publish subscribe history resume gap order deliver node redis stream frame queue latency ' +
  'user room chat typing presence online offline retry backoff jitter token auth limit drain metrics health ready alive compress'
).split(' ');

/** Text of exactly `length` characters, different for every `seed` (a small xorshift generator). */
function textOf(length: number, seed: number): string {
  if (length <= FILLER.length) return FILLER.slice(0, length);
  let state = (seed * 2_654_435_761) >>> 0 || 1;
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const word = WORDS[state % WORDS.length]!;
    parts.push(word);
    size += word.length + 1;
  }
  return parts.join(' ').slice(0, length);
}

/** Message `n`, whose JSON is `bytes` long (`PAYLOAD_BYTES` unless a scenario asks for bigger ones). */
export function makeMessage(n: number, sentAt: number = nowMs(), bytes: number = PAYLOAD_BYTES): BenchMessage {
  // `${number}` and JSON.stringify(number) print numbers the same way.
  const overhead = `{"n":${n},"sentAt":${sentAt},"text":""}`.length;
  return { n, sentAt, text: textOf(Math.max(0, bytes - overhead), n) };
}
