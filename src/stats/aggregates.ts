/**
 * Running aggregates per operation.
 *
 * `OperationAggregate` holds two kinds of figures:
 *  - history figures (count, sum, successes, min, max and a log histogram),
 *    kept equal to the records the ring still holds: the store adds on
 *    record and removes on eviction, so whole-history statistics per
 *    operation cost O(buckets), never O(records);
 *  - cumulative figures (cumCount, cumSum, cumFailures, Prometheus buckets)
 *    that only grow until the collector is cleared, for counters and
 *    histograms that must not go down when the ring trims.
 */
import { BUCKETS, percentilesFromCounts } from './histogram.js';

/** Prometheus-style upper bounds in ms (+Inf implied). */
export const CUMULATIVE_BOUNDS_MS: readonly number[] = Object.freeze([
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
]);
const NB = CUMULATIVE_BOUNDS_MS.length;

/** The bounds with +Inf appended, so `d > BOUNDS_WITH_INF[j]` needs no range check. */
export const BOUNDS_WITH_INF = Float64Array.from([...CUMULATIVE_BOUNDS_MS, Infinity]);

/** Fine bucket -> first bound >= the bucket's lower edge (one compare fixes the rest). */
export const BOUND_OF_BUCKET = (() => {
  const t = new Uint8Array(BUCKETS);
  let j = 0;
  for (let i = 0; i < BUCKETS; i++) {
    const low = i === 0 ? 0 : 2 ** (-30 + (i >> 7)) * (1 + (i & 127) / 128);
    while (j < NB && CUMULATIVE_BOUNDS_MS[j] < low) j++;
    t[i] = j;
  }
  return t;
})();

const HIST_SLACK = 64;

export class OperationAggregate {
  count = 0;
  sum = 0;
  successes = 0;
  min = Infinity;
  max = -Infinity;
  /** min/max may be stale after an eviction removed the extreme value. */
  extremesStale = false;
  histOffset = 0;
  hist: Uint32Array = new Uint32Array(0);

  cumCount = 0;
  cumSum = 0;
  cumFailures = 0;
  /** Non-cumulative counts per bound; index NB = +Inf. */
  readonly cumBuckets = new Float64Array(NB + 1);

  constructor(readonly name: string) {}

  /** Adds a record to the history figures; `b` is bucketOf(durationMs). */
  add(durationMs: number, success: boolean, b: number): void {
    this.count++;
    this.sum += durationMs;
    if (success) this.successes++;
    if (durationMs < this.min) this.min = durationMs;
    if (durationMs > this.max) this.max = durationMs;
    const k = b - this.histOffset;
    if (k >= 0 && k < this.hist.length) this.hist[k]++;
    else this.growHist(b);
  }

  /** Adds a record to both the history and the cumulative figures. */
  addBoth(durationMs: number, success: boolean, b: number): void {
    this.add(durationMs, success, b);
    this.addCumulative(durationMs, success, b);
  }

  /** Adds a record to the cumulative figures only (it left the history before it was folded in). */
  addCumulative(durationMs: number, success: boolean, b: number): void {
    this.cumCount++;
    this.cumSum += durationMs;
    if (!success) this.cumFailures++;
    let j = BOUND_OF_BUCKET[b];
    if (j < NB && durationMs > CUMULATIVE_BOUNDS_MS[j]) j++;
    this.cumBuckets[j]++;
  }

  /**
   * Applies a batch of adds whose histogram buckets (history and
   * cumulative) the caller already counted: `n` records summing to `sum`,
   * `ok` of them successes, extremes folded into `min`/`max`.
   */
  addFolded(n: number, sum: number, ok: number, min: number, max: number): void {
    this.count += n;
    this.sum += sum;
    this.successes += ok;
    this.min = min;
    this.max = max;
    this.cumCount += n;
    this.cumSum += sum;
    this.cumFailures += n - ok;
  }

  /**
   * Applies a batch of removals whose history buckets the caller already
   * decremented; `extremeHit` when one of them was <= min or >= max.
   */
  removeFolded(n: number, sum: number, ok: number, extremeHit: boolean): void {
    if ((this.count -= n) === 0) {
      this.resetHistory();
      return;
    }
    this.sum -= sum;
    this.successes -= ok;
    if (extremeHit) this.extremesStale = true;
  }

  /** Removes an evicted record from the history figures; `b` is its bucket. */
  remove(durationMs: number, success: boolean, b: number): void {
    if (--this.count === 0) {
      this.sum = 0;
      this.successes = 0;
      this.min = Infinity;
      this.max = -Infinity;
      this.extremesStale = false;
      this.hist.fill(0);
      return;
    }
    this.sum -= durationMs;
    if (success) this.successes--;
    if (durationMs <= this.min || durationMs >= this.max) this.extremesStale = true;
    this.hist[b - this.histOffset]--;
  }

  resetHistory(): void {
    this.count = 0;
    this.sum = 0;
    this.successes = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.extremesStale = false;
    this.hist.fill(0);
  }

  /** Counts bucket `b` in the history histogram, widening it (callers reload `hist`/`histOffset`). */
  growHist(b: number): void {
    const old = this.hist;
    if (old.length === 0) {
      const lo = Math.max(0, b - HIST_SLACK);
      this.hist = new Uint32Array(Math.min(BUCKETS, b + HIST_SLACK + 1) - lo);
      this.histOffset = lo;
      this.hist[b - lo] = 1;
      return;
    }
    const oldLo = this.histOffset;
    const oldHi = oldLo + old.length;
    const lo = Math.max(0, Math.min(oldLo, b - HIST_SLACK));
    const hi = Math.min(BUCKETS, Math.max(oldHi, b + HIST_SLACK + 1));
    const next = new Uint32Array(hi - lo);
    next.set(old, oldLo - lo);
    next[b - lo]++;
    this.hist = next;
    this.histOffset = lo;
  }

  /** Adds this aggregate's histogram into `into` (indexed by absolute bucket). */
  addHistInto(into: Uint32Array): void {
    const h = this.hist;
    const off = this.histOffset;
    for (let k = 0; k < h.length; k++) if (h[k] !== 0) into[off + k] += h[k];
  }

  /** Percentiles (qs ascending, 0..1) of the records in history. */
  percentiles(qs: readonly number[], out: number[] = []): number[] {
    return percentilesFromCounts(this.hist, this.histOffset, 0, this.hist.length - 1, this.count, qs, this.min, this.max, out);
  }

  /** Cumulative counts per bound as Prometheus wants them (le = bound). */
  cumulativeBucketCounts(): number[] {
    const out = new Array<number>(NB);
    let acc = 0;
    for (let j = 0; j < NB; j++) {
      acc += this.cumBuckets[j];
      out[j] = acc;
    }
    return out;
  }
}
