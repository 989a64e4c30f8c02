/**
 * The one percentile definition of perfprobe: nearest rank. The q-quantile
 * of n values is the value of rank ceil(q * n) (1-based, at least 1) in
 * ascending order: the smallest value with at least q * n values at or
 * below it. It is always a value that occurred (no interpolation between
 * two). The statistics apply it to their histograms (./histogram.ts: the
 * rank's bucket, within 0.39 % of the exact value) and `perfprobe compare`
 * to the exact sorted durations.
 */

/** The 1-based nearest rank of quantile q (0..1) among n values (n >= 1). */
export function nearestRank(q: number, n: number): number {
  const x = q * n;
  // q * n a hair above an integer through rounding (0.07 * 100 = 7.000000000000001) is that integer.
  const r = Math.ceil(x - Math.abs(x) * 1e-12);
  return r < 1 ? 1 : r > n ? n : r;
}

/** The nearest-rank q-quantile of an ascending array; null when it is empty. */
export function percentileOfSorted(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[nearestRank(q, sorted.length) - 1]!;
}
