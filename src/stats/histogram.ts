/**
 * Log-bucketed histogram indexing in the HDR style: the bucket of a
 * non-negative double is its exponent and the top SUB_BITS bits of its
 * mantissa, read straight from the IEEE-754 bits (no Math.log). Each bucket
 * spans a relative width of at most 2^-SUB_BITS = 0.78 %, so a bucket's
 * midpoint is within 0.39 % of any value in it.
 *
 * Range: 2^MIN_EXP (about 1e-9) to 2^MAX_EXP (about 4.3e9); values below
 * fall in bucket 0 (zeros included), values above in the last bucket.
 */
import { nearestRank } from './percentile.js';

export const SUB_BITS = 7;
export const MIN_EXP = -30;
export const MAX_EXP = 32;
export const BUCKETS = (MAX_EXP - MIN_EXP) << SUB_BITS;
/** bucketOf(v) = clamp((high word of v >>> BUCKET_SHIFT) - BUCKET_BASE): exported for the fold loops that inline it (./fold.ts). */
export const BUCKET_BASE = (1023 + MIN_EXP) << SUB_BITS;
export const BUCKET_SHIFT = 20 - SUB_BITS;
const BASE = BUCKET_BASE;
const SHIFT = BUCKET_SHIFT;
const SUB = 1 << SUB_BITS;

const scratch = new Float64Array(1);
const scratchWords = new Uint32Array(scratch.buffer);
/** Index of the high 32-bit word of a double in a Uint32Array view. */
export const HI_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Bucket of a non-negative value. */
export function bucketOf(value: number): number {
  scratch[0] = value;
  const i = (scratchWords[HI_WORD] >>> SHIFT) - BASE;
  return i < 0 ? 0 : i >= BUCKETS ? BUCKETS - 1 : i;
}

/** Lower edge of bucket i (bucket 0 also holds everything below it). */
export function bucketLow(i: number): number {
  return 2 ** (MIN_EXP + (i >> SUB_BITS)) * (1 + (i & (SUB - 1)) / SUB);
}

/** Octaves (powers of two) the buckets span; bucket i lies in octave i >> SUB_BITS. */
export const OCTAVES = BUCKETS >> SUB_BITS;
/** Buckets per octave. */
export const OCTAVE_BUCKETS = SUB;

/** Geometric midpoint of octave e: the value reported for a rank in an octave counted without its buckets (within a factor sqrt(2)). */
export function octaveMid(e: number): number {
  return 2 ** (MIN_EXP + e + 0.5);
}

/**
 * Midpoint of the pair of buckets (2k, 2k + 1) of octave e: what a rank in
 * a histogram page (aggregates.ts: 64 counts per octave, 1.56 % wide, so
 * within 0.78 %) reports.
 */
export function pairMid(e: number, k: number): number {
  return 2 ** (MIN_EXP + e) * (1 + (2 * k + 1) / SUB);
}

/** Midpoint of bucket i: the value reported for a rank that falls in it. */
export function bucketMid(i: number): number {
  return 2 ** (MIN_EXP + (i >> SUB_BITS)) * (1 + ((i & (SUB - 1)) + 0.5) / SUB);
}

/**
 * Nearest-rank percentiles (./percentile.ts: the project's one definition;
 * qs ascending, each 0..1) from bucket counts, in
 * one pass. counts[k] holds bucket (offset + k); from..to (inclusive) bound
 * the non-empty range when known. Each result is its bucket's midpoint
 * clamped to the exact [min, max] of the data, which makes p0/p100 exact
 * and keeps bucket 0 honest.
 */
export function percentilesFromCounts(
  counts: ArrayLike<number>,
  offset: number,
  from: number,
  to: number,
  total: number,
  qs: readonly number[],
  min: number,
  max: number,
  out: number[],
): number[] {
  out.length = qs.length;
  if (total <= 0) {
    out.fill(NaN);
    return out;
  }
  let j = 0;
  let rank = nearestRank(qs[0], total);
  let seen = 0;
  for (let k = from; k <= to && j < qs.length; k++) {
    seen += counts[k];
    while (j < qs.length && seen >= rank) {
      const b = offset + k;
      const v = b === 0 ? min : bucketMid(b);
      out[j++] = v < min ? min : v > max ? max : v;
      if (j < qs.length) rank = nearestRank(qs[j], total);
    }
  }
  while (j < qs.length) out[j++] = max;
  return out;
}
