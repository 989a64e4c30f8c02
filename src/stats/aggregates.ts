/**
 * Running aggregates per operation. The invariants of every loop that keeps
 * them live here: the aggregate's own methods below, the batched fold loops
 * in ./fold.ts (their hand-inlined twins), the page pool in ./bucket-pool.ts.
 *
 * `OperationAggregate` holds two kinds of figures:
 *  - history figures (count, sum, successes, min, max and a log histogram),
 *    kept equal to the records the ring still holds: the store adds on
 *    record and removes on eviction, so whole-history statistics per
 *    operation cost O(octaves + buckets of one octave), never O(records);
 *  - cumulative figures (cumCount, cumSum, cumFailures, Prometheus buckets)
 *    that only grow until the collector is cleared, for counters and
 *    histograms that must not go down when the ring trims.
 *
 * The history histogram is two-level and bounded. Per operation, `oct`
 * counts the held records of each octave (power of two: 62 of them); an
 * octave that holds records has, while the collector's BucketPool can give
 * one, a page of 64 counts (pairs of the 0.78 % buckets: 1.56 % wide, so a
 * percentile is within 0.78 %) in that pool. An octave without a page is
 * counted only in `oct` (a percentile there is within a factor sqrt(2)). A
 * page is taken at the first record that finds the octave without one and
 * the pool with a free page, and given back when the octave's last record
 * leaves: memory follows the occupied octaves, never the range seen once.
 * Records leave in the order they came (sequence numbers), so a page knows
 * which of its octave's records it counts: those from `since[page]` on; the
 * older ones, counted without it, leave first (until then a percentile in
 * that octave scales the page's counts up to the octave's). The pool holds
 * at most MAX_PAGES pages (32 MiB). It also keeps one full-width histogram
 * of every operation together (`total`), so whole-history statistics over
 * all operations cost O(buckets), not O(operations x buckets).
 *
 * Invariants (test/store/fold-matches-recount.test.ts recounts them through
 * evictions, reads, resizes and re-sorting pushes):
 *  I1  after the store's settle(), each aggregate's count, sum (up to
 *      rounding: see I4), successes and octave counts equal those of the
 *      records of its operation the ring holds, and min/max equal theirs
 *      unless extremesStale;
 *  I2  cumCount/cumSum/cumFailures/cumBuckets count every record ever
 *      pushed with cumulative totals (imports re-sorted in are not counted
 *      twice) until clear(), whether or not it is still held;
 *  I3  extremesStale is set whenever a removed duration was <= min or >=
 *      max, and only recount() (or recountChains()) clears it;
 *  I4  sum loses the low digits of small durations added while a huge one
 *      was in it; recount() recomputes sum exactly from the held records;
 *  I5  an octave has a page only while its count is > 0; while it has page
 *      pg, the page counts in their bucket pair exactly its held records
 *      with sequence numbers >= pool.sinceOf(pg) (their sum in segSum), and every held record of the
 *      octave older than that was counted in `oct` only; a page given back is
 *      all zeros;
 *  I6  pool.total[b] counts the held records of every operation in bucket b;
 *  I7  lastSeq is the sequence number (Ring: evictedTotal + logical index)
 *      of the operation's newest folded record, and each folded record's
 *      `lnk` is the distance back to the previous folded record of its
 *      operation (0: none); a walk stops at the first sequence number no
 *      longer held, so links into evicted records are never followed.
 * The fold loops in ./fold.ts are hand-inlined twins of add()/remove()/
 * addCumulative()/link() (one operation's figures in locals, bucket computed
 * from the duration's high word): any change to one must be made to its twin.
 */
import { BUCKETS, OCTAVES, SUB_BITS, bucketOf, octaveMid, pairMid } from './histogram.js';
import { NO_PAGE, PAGE_BITS, PAGE_MASK, PAGE_SIZE, SEG_BITS, SEG_MASK, type BucketPool } from './bucket-pool.js';

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

/** Bytes of one aggregate's typed arrays (one buffer): cumulative buckets, octave counts, page indexes. */
const AGGREGATE_BUFFER_BYTES = (NB + 1) * 8 + OCTAVES * 4 + OCTAVES * 4;

export class OperationAggregate {
  count = 0;
  sum = 0;
  successes = 0;
  min = Infinity;
  max = -Infinity;
  /** min/max may be stale after an eviction removed the extreme value. */
  extremesStale = false;
  /** Sequence number of the newest folded record (I7); -1: none. */
  lastSeq = -1;
  /** p95 of the history, valid while p95Valid (every change of the history figures clears it). */
  p95Cache = 0;
  p95Valid = false;

  cumCount = 0;
  cumSum = 0;
  cumFailures = 0;
  /** Non-cumulative counts per bound; index NB = +Inf. */
  readonly cumBuckets: Float64Array;
  /** Held records per octave (I1, I5). */
  readonly oct: Uint32Array;
  /** Each octave's page in the pool, or NO_PAGE. */
  readonly pageOf: Uint32Array;

  constructor(
    readonly name: string,
    readonly id: number,
    readonly pool: BucketPool,
  ) {
    const buf = new ArrayBuffer(AGGREGATE_BUFFER_BYTES);
    this.cumBuckets = new Float64Array(buf, 0, NB + 1);
    this.oct = new Uint32Array(buf, (NB + 1) * 8, OCTAVES);
    this.pageOf = new Uint32Array(buf, (NB + 1) * 8 + OCTAVES * 4, OCTAVES).fill(NO_PAGE);
  }

  /** Adds the record numbered `seq` to the history figures; `b` is bucketOf(durationMs). Twin: foldInChunk (./fold.ts). */
  add(durationMs: number, success: boolean, b: number, seq: number): void {
    this.p95Valid = false;
    this.count++;
    this.sum += durationMs;
    if (success) this.successes++;
    if (durationMs < this.min) this.min = durationMs;
    if (durationMs > this.max) this.max = durationMs;
    const e = b >> SUB_BITS;
    this.oct[e]++;
    const pool = this.pool;
    let pg = this.pageOf[e]!;
    if (pg === NO_PAGE) pg = pool.alloc(this, e, seq);
    if (pg !== NO_PAGE) {
      pool.segPages[pg >>> SEG_BITS]![((pg & SEG_MASK) << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]++;
      pool.segSum[pg >>> SEG_BITS]![pg & SEG_MASK]++;
    }
    pool.total[b]++;
  }

  /** Links the folded record in physical slot p, sequence number `seq`, to the operation's previous one (I7). Twin: foldInChunk (./fold.ts). */
  link(lnk: Uint32Array, p: number, seq: number): void {
    const last = this.lastSeq;
    const dist = seq - last;
    lnk[p] = last >= 0 && dist <= 0xffffffff ? dist : 0;
    this.lastSeq = seq;
  }

  /** Adds a record to the cumulative figures only (it left the history before it was folded in). */
  addCumulative(durationMs: number, success: boolean, b: number): void {
    this.cumCount++;
    this.cumSum += durationMs;
    if (!success) this.cumFailures++;
    let j = BOUND_OF_BUCKET[b]!;
    if (j < NB && durationMs > CUMULATIVE_BOUNDS_MS[j]!) j++;
    this.cumBuckets[j]++;
  }

  /**
   * Applies a batch of adds whose histogram buckets (history and
   * cumulative) and links the caller already counted: `n` records summing to
   * `sum`, `ok` of them successes, extremes folded into `min`/`max`, the
   * newest one numbered `lastSeq`.
   */
  addFolded(n: number, sum: number, ok: number, min: number, max: number, lastSeq: number): void {
    this.p95Valid = false;
    this.count += n;
    this.sum += sum;
    this.successes += ok;
    this.min = min;
    this.max = max;
    this.lastSeq = lastSeq;
    this.cumCount += n;
    this.cumSum += sum;
    this.cumFailures += n - ok;
  }

  /**
   * Applies a batch of removals whose history buckets the caller already
   * decremented; `extremeHit` when one of them was <= min or >= max.
   */
  removeFolded(n: number, sum: number, ok: number, extremeHit: boolean): void {
    this.p95Valid = false;
    if ((this.count -= n) === 0) {
      this.resetHistory();
      return;
    }
    this.sum -= sum;
    this.successes -= ok;
    if (extremeHit) this.extremesStale = true;
  }

  /** Removes the evicted record numbered `seq` from the history figures; `b` is its bucket. Twin: foldOutChunk (./fold.ts). */
  remove(durationMs: number, success: boolean, b: number, seq: number): void {
    this.p95Valid = false;
    const e = b >> SUB_BITS;
    const pool = this.pool;
    const pg = this.pageOf[e]!;
    if (pg !== NO_PAGE) {
      const sg = pg >>> SEG_BITS;
      if (seq >= pool.segSince[sg]![pg & SEG_MASK]!) {
        pool.segPages[sg]![((pg & SEG_MASK) << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]--;
        pool.segSum[sg]![pg & SEG_MASK]--;
      }
      if (--this.oct[e] === 0) pool.free(this, e);
    } else this.oct[e]--;
    pool.total[b]--;
    if (--this.count === 0) {
      this.resetHistory();
      return;
    }
    this.sum -= durationMs;
    if (success) this.successes--;
    if (durationMs <= this.min || durationMs >= this.max) this.extremesStale = true;
  }

  /**
   * History figures to empty. The pages must already be free: given back
   * record by record as the counts reached zero, or all at once by
   * pool.reset() (clearHistory).
   */
  resetHistory(): void {
    this.p95Valid = false;
    this.count = 0;
    this.sum = 0;
    this.successes = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.extremesStale = false;
    this.lastSeq = -1;
    this.oct.fill(0);
    this.pageOf.fill(NO_PAGE);
  }

  /** The count of bucket b's pair in its octave's page, else -1 (no page: counted per octave only). */
  pageCount(b: number): number {
    const pg = this.pageOf[b >> SUB_BITS]!;
    return pg === NO_PAGE ? -1 : this.pool.segPages[pg >>> SEG_BITS]![((pg & SEG_MASK) << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]!;
  }

  /**
   * Percentiles (qs each 0..1) of the records in history, nearest rank.
   * Each rank is found from the nearer end (the p95 of a summary from the
   * top): octave counts first, then the 64 counts of the page of the octave
   * it falls in (scaled up to the octave's count while older records of it
   * were counted without the page). Each result is its bucket pair's
   * midpoint (or its octave's, without a page) clamped to [min, max].
   */
  percentiles(qs: readonly number[], out: number[] = []): number[] {
    out.length = qs.length;
    const n = this.count;
    if (n <= 0) {
      out.fill(NaN);
      return out;
    }
    for (let j = 0; j < qs.length; j++) out[j] = this.valueAtRank(Math.max(1, Math.ceil(qs[j]! * n)));
    return out;
  }

  /** The nearest-rank p95 of the history (cached until the history changes: a summary recomputes only what moved). */
  p95(): number {
    if (this.p95Valid) return this.p95Cache;
    const v = this.count <= 0 ? NaN : this.valueAtRank(Math.max(1, Math.ceil(0.95 * this.count)));
    this.p95Cache = v;
    this.p95Valid = true;
    return v;
  }

  /** The value of nearest rank `rank` (1..count) of the records in history. */
  private valueAtRank(rank: number): number {
    const n = this.count;
    const min = this.min;
    const max = this.max;
    const oct = this.oct;
    let e: number;
    let r: number; // rank within octave e
    if (rank * 2 <= n) {
      let seen = 0;
      e = bucketOf(min) >> SUB_BITS;
      while (seen + oct[e]! < rank) seen += oct[e++]!;
      r = rank - seen;
    } else {
      // From the top: the rank is the (n - rank + 1)-th largest.
      const want = n - rank + 1;
      let above = 0;
      e = bucketOf(max) >> SUB_BITS;
      while (above + oct[e]! < want) above += oct[e--]!;
      r = rank - (n - above - oct[e]!);
    }
    const c = oct[e]!;
    const pg = this.pageOf[e]!;
    let m: number;
    if (pg === NO_PAGE) m = e === 0 ? min : octaveMid(e);
    else {
      const pool = this.pool;
      const sg = pg >>> SEG_BITS;
      const page = pool.segPages[sg]!;
      const first = (pg & SEG_MASK) << PAGE_BITS;
      const counted = pool.segSum[sg]![pg & SEG_MASK]!;
      const scale = counted === c ? 1 : c / counted;
      let k: number;
      if (r * 2 <= c) {
        // The smallest pair whose cumulative count reaches r; the last takes what rounding left.
        let acc = 0;
        for (k = 0; k < PAGE_SIZE - 1; k++) {
          acc += page[first + k]! * scale;
          if (acc >= r) break;
        }
      } else {
        // The same pair, found from the top: the largest whose count from the top reaches c - r + 1.
        const want = c - r + 1;
        let acc = 0;
        for (k = PAGE_SIZE - 1; k > 0; k--) {
          acc += page[first + k]! * scale;
          if (acc >= want) break;
        }
      }
      m = e === 0 && k === 0 ? min : pairMid(e, k);
    }
    return m < min ? min : m > max ? max : m;
  }

  /** Cumulative counts per bound as Prometheus wants them (le = bound). */
  cumulativeBucketCounts(): number[] {
    const out = new Array<number>(NB);
    let acc = 0;
    for (let j = 0; j < NB; j++) {
      acc += this.cumBuckets[j]!;
      out[j] = acc;
    }
    return out;
  }
}

/** Bytes one aggregate holds besides its pages (measured figure: test/stats/histogram-bounds.test.ts). */
export const AGGREGATE_BYTES = AGGREGATE_BUFFER_BYTES;

