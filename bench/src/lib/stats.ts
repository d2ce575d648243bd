/**
 * Latency histograms and the small statistics the report needs. Latencies are
 * recorded in a log-linear histogram (128 sub-buckets per power of two, about
 * 0.5 % precision from 1 µs to over a minute), so recording costs the same
 * whatever the count and memory stays constant.
 */

const SUB_BUCKETS = 128;
const OCTAVES = 40;

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export const EMPTY_SUMMARY: LatencySummary = { count: 0, p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };

export class Histogram {
  private readonly counts = new Float64Array(OCTAVES * SUB_BUCKETS);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  /** Records one latency in milliseconds (negative values, clock noise, count as 0). */
  record(ms: number): void {
    const us = ms > 0 ? ms * 1000 : 0;
    this.counts[bucketOf(us)]! += 1;
    this.total++;
    this.sumUs += us;
    if (us > this.maxUs) this.maxUs = us;
  }

  get count(): number {
    return this.total;
  }

  /** Adds `other`'s values to this histogram. */
  add(other: Histogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.total += other.total;
    this.sumUs += other.sumUs;
    if (other.maxUs > this.maxUs) this.maxUs = other.maxUs;
  }

  reset(): void {
    this.counts.fill(0);
    this.total = 0;
    this.sumUs = 0;
    this.maxUs = 0;
  }

  /** The value (ms) at or below which `q` (0..1) of the recorded values fall. */
  quantile(q: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(upperBoundUs(i), this.maxUs) / 1000;
    }
    return this.maxUs / 1000;
  }

  summary(): LatencySummary {
    if (this.total === 0) return EMPTY_SUMMARY;
    return {
      count: this.total,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      max: this.maxUs / 1000,
      mean: this.sumUs / this.total / 1000,
    };
  }
}

function bucketOf(us: number): number {
  if (us < 1) return 0;
  const octave = Math.min(OCTAVES - 1, Math.floor(Math.log2(us)));
  const base = 2 ** octave;
  const sub = Math.min(SUB_BUCKETS - 1, Math.floor(((us - base) / base) * SUB_BUCKETS));
  return octave * SUB_BUCKETS + sub;
}

function upperBoundUs(bucket: number): number {
  const octave = Math.floor(bucket / SUB_BUCKETS);
  const sub = bucket % SUB_BUCKETS;
  const base = 2 ** octave;
  return base + ((sub + 1) * base) / SUB_BUCKETS;
}

/** The median of finite values (NaN for none). */
export function median(values: readonly number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Smallest and largest finite value. */
export function range(values: readonly number[]): { min: number; max: number } {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { min: Number.NaN, max: Number.NaN };
  return { min: Math.min(...finite), max: Math.max(...finite) };
}

/** A value with the spread of its repeats. */
export interface Measured {
  readonly value: number;
  readonly min: number;
  readonly max: number;
}

export function measured(value: number, repeats: readonly number[]): Measured {
  const spread = range(repeats);
  return { value, min: spread.min, max: spread.max };
}

/** Percentile of raw samples (ms), for small sample sets such as per-client resume times. */
export function percentileOf(values: readonly number[], q: number): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
