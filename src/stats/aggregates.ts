/**
 * Running aggregates per operation, and every loop that keeps them: the
 * invariants live in this one file.
 *
 * `OperationAggregate` holds two kinds of figures:
 *  - history figures (count, sum, successes, min, max and a log histogram),
 *    kept equal to the records the ring still holds: the store adds on
 *    record and removes on eviction, so whole-history statistics per
 *    operation cost O(buckets), never O(records);
 *  - cumulative figures (cumCount, cumSum, cumFailures, Prometheus buckets)
 *    that only grow until the collector is cleared, for counters and
 *    histograms that must not go down when the ring trims.
 *
 * Invariants (test/store/fold-matches-recount.test.ts recounts them through
 * evictions, reads, resizes and re-sorting pushes):
 *  I1  after the store's settle(), each aggregate's count, sum (up to
 *      rounding: see I4), successes and histogram equal those of the records
 *      of its operation the ring holds, and min/max equal theirs unless
 *      extremesStale;
 *  I2  cumCount/cumSum/cumFailures/cumBuckets count every record ever
 *      pushed with cumulative totals (imports re-sorted in are not counted
 *      twice) until clear(), whether or not it is still held;
 *  I3  extremesStale is set whenever a removed duration was <= min or >=
 *      max, and only recount() clears it;
 *  I4  sum loses the low digits of small durations added while a huge one
 *      was in it; recount() recomputes sum exactly from the held records.
 * The fold loops below are hand-inlined twins of add()/remove()/
 * addCumulative() (one operation's figures in locals, bucket computed from
 * the duration's high word): any change to one must be made to its twin.
 */
import { BUCKETS, BUCKET_BASE, BUCKET_SHIFT, HI_WORD, bucketOf, percentilesFromCounts } from './histogram.js';

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

// ---------------------------------------------------------------- the fold

/** The processing store's columns the fold reads and writes (physical slots). */
export interface FoldColumns {
  readonly dur: Float64Array;
  /** 32-bit view of `dur`: the high words give histogram buckets without a float store. */
  readonly durWords: Uint32Array;
  readonly ok: Uint8Array;
  readonly op: Uint32Array;
  /** Histogram bucket of each duration, written by foldIn, read by foldOut. */
  readonly bkt: Uint16Array;
  readonly job: Uint32Array;
  readonly stage: Uint32Array;
  readonly err: Uint32Array;
  /** Gives back the interned strings of slot p (called when any of job, stage, err is set). */
  releaseStrings(p: number): void;
}

/** Slots per call of the fold loops. */
const FOLD_CHUNK = 256;

// The fold loops run in chunks of FOLD_CHUNK slots. Why: a first call long
// enough to be optimized mid-loop (on-stack replacement) compiles the code
// after the loop before it has ever run; V8 then deopts there on every later
// call (seen: ~800 deopts per 3 M records, +50 ns per record). Short calls
// finish in the interpreter first and are then optimized whole.

/** Removes the folded records in physical slots [from, to) from the history figures (I1, I3) and frees their strings. */
export function foldOut(ops: OperationAggregate[], c: FoldColumns, from: number, to: number): void {
  for (let q = from; q < to; q += FOLD_CHUNK) foldOutChunk(ops, c, q, q + FOLD_CHUNK < to ? q + FOLD_CHUNK : to);
}

/** Adds the unfolded records in physical slots [from, to) to the history and cumulative figures (I1, I2), writing their bucket column. */
export function foldIn(ops: OperationAggregate[], c: FoldColumns, from: number, to: number): void {
  for (let q = from; q < to; q += FOLD_CHUNK) foldInChunk(ops, c, q, q + FOLD_CHUNK < to ? q + FOLD_CHUNK : to);
}

/** Twin of remove(), batched per run of one operation. */
function foldOutChunk(ops: OperationAggregate[], c: FoldColumns, from: number, to: number): void {
  const dur = c.dur;
  const okCol = c.ok;
  const opCol = c.op;
  const bkt = c.bkt;
  const job = c.job;
  const stage = c.stage;
  const err = c.err;
  let o = opCol[from];
  let a = ops[o];
  let h = a.hist;
  let off = a.histOffset;
  let min = a.min;
  let max = a.max;
  let n = 0;
  let sum = 0;
  let ok = 0;
  let hit = false;
  for (let p = from; p < to; p++) {
    const o2 = opCol[p];
    if (o2 !== o) {
      a.removeFolded(n, sum, ok, hit);
      o = o2;
      a = ops[o];
      h = a.hist;
      off = a.histOffset;
      min = a.min;
      max = a.max;
      n = 0;
      sum = 0;
      ok = 0;
      hit = false;
    }
    const d = dur[p];
    n++;
    sum += d;
    ok += okCol[p];
    if (d <= min || d >= max) hit = true;
    h[bkt[p] - off]--;
    if ((job[p] | stage[p] | err[p]) !== 0) c.releaseStrings(p);
  }
  a.removeFolded(n, sum, ok, hit);
}

/** Twin of add() + addCumulative(), batched per run of one operation; bucketOf(d) inlined from the high word. */
function foldInChunk(ops: OperationAggregate[], c: FoldColumns, from: number, to: number): void {
  const dur = c.dur;
  const words = c.durWords;
  const okCol = c.ok;
  const opCol = c.op;
  const bkt = c.bkt;
  const hiWord = HI_WORD;
  const shift = BUCKET_SHIFT;
  const base = BUCKET_BASE;
  const lastBucket = BUCKETS - 1;
  const boundOf = BOUND_OF_BUCKET;
  const bounds = BOUNDS_WITH_INF;
  let o = opCol[from];
  let a = ops[o];
  let h = a.hist;
  let off = a.histOffset;
  let len = h.length;
  let cb = a.cumBuckets;
  let min = a.min;
  let max = a.max;
  let n = 0;
  let sum = 0;
  let ok = 0;
  for (let p = from; p < to; p++) {
    const o2 = opCol[p];
    if (o2 !== o) {
      a.addFolded(n, sum, ok, min, max);
      o = o2;
      a = ops[o];
      h = a.hist;
      off = a.histOffset;
      len = h.length;
      cb = a.cumBuckets;
      min = a.min;
      max = a.max;
      n = 0;
      sum = 0;
      ok = 0;
    }
    const d = dur[p];
    let b = (words[(p << 1) + hiWord] >>> shift) - base; // bucketOf(d), inlined
    b = b < 0 ? 0 : b > lastBucket ? lastBucket : b;
    bkt[p] = b;
    n++;
    sum += d;
    ok += okCol[p];
    if (d < min) min = d;
    if (d > max) max = d;
    const k = b - off;
    if (k >= 0 && k < len) h[k]++;
    else {
      a.growHist(b);
      h = a.hist;
      off = a.histOffset;
      len = h.length;
    }
    let j = boundOf[b];
    if (d > bounds[j]) j++;
    cb[j]++;
  }
  a.addFolded(n, sum, ok, min, max);
}

/**
 * Records that came and left between two folds (n slots from physical p,
 * wrapping at `capacity`): into the cumulative totals only (I2), strings freed.
 */
export function foldCumulativeOnly(ops: OperationAggregate[], c: FoldColumns, p: number, n: number, capacity: number): void {
  for (let i = 0; i < n; i++) {
    const d = c.dur[p];
    ops[c.op[p]].addCumulative(d, c.ok[p] === 1, bucketOf(d));
    if ((c.job[p] | c.stage[p] | c.err[p]) !== 0) c.releaseStrings(p);
    if (++p === capacity) p = 0;
  }
}

/**
 * Recomputes min, max and sum of every aggregate whose extremes are stale
 * (I3, I4) from the held records in physical ranges [r0, r1) and [r2, r3):
 * one scan, rare (only after an extreme value was evicted).
 */
export function recount(ops: OperationAggregate[], c: { readonly dur: Float64Array; readonly op: Uint32Array }, r: readonly number[]): void {
  let stale = false;
  for (const a of ops) if (a.extremesStale) stale = true;
  if (!stale) return;
  const mins = new Float64Array(ops.length).fill(Infinity);
  const maxs = new Float64Array(ops.length).fill(-Infinity);
  const sums = new Float64Array(ops.length);
  for (let s = 0; s < r.length; s += 2) {
    for (let p = r[s]!; p < r[s + 1]!; p++) {
      const o = c.op[p];
      const d = c.dur[p];
      sums[o] += d;
      if (d < mins[o]) mins[o] = d;
      if (d > maxs[o]) maxs[o] = d;
    }
  }
  for (let o = 0; o < ops.length; o++) {
    const a = ops[o];
    if (a.extremesStale) {
      a.min = mins[o];
      a.max = maxs[o];
      a.sum = sums[o];
      a.extremesStale = false;
    }
  }
}
