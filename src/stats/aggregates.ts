/**
 * Running aggregates per operation, and every loop that keeps them: the
 * invariants live in this one file.
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
 * The fold loops below are hand-inlined twins of add()/remove()/
 * addCumulative()/link() (one operation's figures in locals, bucket computed
 * from the duration's high word): any change to one must be made to its twin.
 */
import {
  BUCKETS,
  BUCKET_BASE,
  BUCKET_SHIFT,
  HI_WORD,
  OCTAVES,
  OCTAVE_BUCKETS,
  SUB_BITS,
  bucketOf,
  octaveMid,
  pairMid,
} from './histogram.js';

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

/** pageOf entry of an octave without a page. */
export const NO_PAGE = 0xffffffff;
/** Counts per page: one per pair of buckets of an octave. */
export const PAGE_SIZE = OCTAVE_BUCKETS >> 1;
const PAGE_BITS = SUB_BITS - 1;
/** Most pages a pool holds: 131,072 x 256 B = 32 MiB. */
export const MAX_PAGES = 1 << 17;
/** Bytes of one page. */
export const PAGE_BYTES = PAGE_SIZE * 4;
/** Pages per segment: the pool grows and shrinks a segment (64 KiB of counts) at a time. */
const SEG_BITS = 8;
const SEG_PAGES = 1 << SEG_BITS;
const SEG_MASK = SEG_PAGES - 1;
/** Count of bucket b in page pg: segPages[pg >>> SEG_BITS][((pg & SEG_MASK) << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]. */
const PAGE_MASK = PAGE_SIZE - 1;

/**
 * The pages of every operation's histogram (one store's), and the histogram
 * of all operations together. Pages live in segments of SEG_PAGES: the pool
 * adds a segment when no page is free (never copying the others: a 32 MiB
 * array reallocated into fresh memory paused a record call 190 ms) up to
 * `maxPages`, and when three quarters are free moves the live pages down
 * (their owners' pageOf updated) and drops the emptied segments.
 */
export class BucketPool {
  /** Per segment, PAGE_SIZE counts per page. */
  segPages: Uint32Array<ArrayBuffer>[] = [];
  /** Per segment, per page, the sequence number of the first record it counts (I5). */
  segSince: Float64Array<ArrayBuffer>[] = [];
  /** Per segment, per page, the sum of its counts. */
  segSum: Uint32Array<ArrayBuffer>[] = [];
  /** Pages the segments have room for (at most maxPages usable). */
  capacity = 0;
  /** Pages in use. */
  live = 0;
  /** Records that found their octave without a page and the pool full, since the last reset. */
  refused = 0;
  /** Held records per bucket, every operation together (I6). */
  readonly total = new Uint32Array(BUCKETS);
  private freeList: number[] = [];
  /** Per page: owner operation id * 64 + octave. */
  private owner: number[] = [];

  constructor(readonly maxPages = MAX_PAGES) {}

  /** A page for octave e of `a`, counting records from sequence number `seq` on (a.pageOf[e] is set), or NO_PAGE when the pool is full. */
  alloc(a: OperationAggregate, e: number, seq: number): number {
    if (this.freeList.length === 0) {
      if (this.capacity >= this.maxPages) {
        this.refused++;
        return NO_PAGE;
      }
      this.addSegment();
    }
    const pg = this.freeList.pop()!;
    this.live++;
    this.owner[pg] = a.id * 64 + e;
    this.segSince[pg >>> SEG_BITS]![pg & SEG_MASK] = seq;
    a.pageOf[e] = pg;
    return pg;
  }

  /** Gives back the page of octave e of `a` (all zeros by I5). */
  free(a: OperationAggregate, e: number): void {
    const pg = a.pageOf[e]!;
    a.pageOf[e] = NO_PAGE;
    this.live--;
    this.freeList.push(pg);
  }

  /** The sequence number page pg counts from (I5). */
  sinceOf(pg: number): number {
    return this.segSince[pg >>> SEG_BITS]![pg & SEG_MASK]!;
  }

  private addSegment(): void {
    const first = this.capacity;
    this.segPages.push(new Uint32Array(SEG_PAGES * PAGE_SIZE));
    this.segSince.push(new Float64Array(SEG_PAGES));
    this.segSum.push(new Uint32Array(SEG_PAGES));
    this.capacity += SEG_PAGES;
    // Lowest index on top of the stack, so pages fill from the bottom; none past maxPages.
    for (let pg = Math.min(this.capacity, this.maxPages) - 1; pg >= first; pg--) this.freeList.push(pg);
  }

  /** When three quarters of the pages are free: moves the live ones into the lowest segments and drops the rest. */
  compact(ops: readonly OperationAggregate[]): void {
    if (this.segPages.length <= 1 || this.live * 4 > this.capacity) return;
    let keepSegs = 1;
    while (keepSegs * SEG_PAGES < this.live * 2) keepSegs++;
    const next = keepSegs * SEG_PAGES;
    const inUse = new Uint8Array(this.capacity);
    for (const a of ops) for (let e = 0; e < OCTAVES; e++) if (a.pageOf[e] !== NO_PAGE) inUse[a.pageOf[e]!] = 1;
    let hole = 0;
    for (let pg = next; pg < this.capacity; pg++) {
      if (inUse[pg] === 0) continue;
      while (inUse[hole] === 1) hole++;
      const from = this.segPages[pg >>> SEG_BITS]!;
      const at = (pg & SEG_MASK) << PAGE_BITS;
      this.segPages[hole >>> SEG_BITS]!.set(from.subarray(at, at + PAGE_SIZE), (hole & SEG_MASK) << PAGE_BITS);
      this.segSince[hole >>> SEG_BITS]![hole & SEG_MASK] = this.segSince[pg >>> SEG_BITS]![pg & SEG_MASK]!;
      this.segSum[hole >>> SEG_BITS]![hole & SEG_MASK] = this.segSum[pg >>> SEG_BITS]![pg & SEG_MASK]!;
      const own = this.owner[pg]!;
      ops[Math.floor(own / 64)]!.pageOf[own & 63] = hole;
      this.owner[hole] = own;
      inUse[hole] = 1;
    }
    this.segPages.length = keepSegs;
    this.segSince.length = keepSegs;
    this.segSum.length = keepSegs;
    this.owner.length = Math.min(this.owner.length, next);
    this.capacity = next;
    this.freeList = [];
    for (let pg = Math.min(next, this.maxPages) - 1; pg >= 0; pg--) if (inUse[pg] === 0) this.freeList.push(pg);
  }

  /** Every page free and every count zero (the aggregates reset their pageOf themselves). */
  reset(): void {
    this.segPages = [];
    this.segSince = [];
    this.segSum = [];
    this.owner = [];
    this.capacity = 0;
    this.live = 0;
    this.refused = 0;
    this.freeList = [];
    this.total.fill(0);
  }

  /** Bytes held: the pages and their bookkeeping, and the all-operations histogram. */
  get byteLength(): number {
    return this.capacity * (PAGE_BYTES + 8 + 4 + 8) + this.total.byteLength + this.freeList.length * 8;
  }
}

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

  /** Adds the record numbered `seq` to the history figures; `b` is bucketOf(durationMs). Twin: foldInChunk. */
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

  /** Links the folded record in physical slot p, sequence number `seq`, to the operation's previous one (I7). Twin: foldInChunk. */
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

  /** Removes the evicted record numbered `seq` from the history figures; `b` is its bucket. Twin: foldOutChunk. */
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

// ---------------------------------------------------------------- the fold

/** The processing store's columns the fold reads and writes (physical slots). */
export interface FoldColumns {
  readonly dur: Float64Array;
  /** 32-bit view of `dur`: the high words give histogram buckets without a float store. */
  readonly durWords: Uint32Array;
  readonly ok: Uint8Array;
  readonly op: Uint32Array;
  /** Distance back to the previous folded record of the same operation (I7), written by foldIn. */
  readonly lnk: Uint32Array;
  readonly job: Uint32Array;
  readonly stage: Uint32Array;
  readonly err: Uint32Array;
  /** The pages of the aggregates' histograms. */
  readonly pool: BucketPool;
  /** Gives back the interned strings of slot p (called when any of job, stage, err is set). */
  releaseStrings(p: number): void;
  /** Gives back n references to interned string `id` (0: none, ignored). */
  releaseString(id: number, n: number): void;
}

/** Slots per call of the fold loops. */
const FOLD_CHUNK = 256;

// The fold loops run in chunks of FOLD_CHUNK slots. Why: a first call long
// enough to be optimized mid-loop (on-stack replacement) compiles the code
// after the loop before it has ever run; V8 then deopts there on every later
// call (seen: ~800 deopts per 3 M records, +50 ns per record). Short calls
// finish in the interpreter first and are then optimized whole.

/**
 * Removes the folded records in physical slots [from, to) from the history
 * figures (I1, I3, I5, I6) and frees their strings; `seqOfFrom` is the
 * sequence number of slot `from` (the slots hold consecutive ones).
 */
export function foldOut(ops: OperationAggregate[], c: FoldColumns, from: number, to: number, seqOfFrom: number): void {
  for (let q = from; q < to; q += FOLD_CHUNK) foldOutChunk(ops, c, q, q + FOLD_CHUNK < to ? q + FOLD_CHUNK : to, seqOfFrom - from);
}

/**
 * Adds the unfolded records in physical slots [from, to) to the history and
 * cumulative figures (I1, I2, I5, I6) and links them (I7); `seqOfFrom` is the
 * sequence number of slot `from` (the slots hold consecutive ones).
 */
export function foldIn(ops: OperationAggregate[], c: FoldColumns, from: number, to: number, seqOfFrom: number): void {
  for (let q = from; q < to; q += FOLD_CHUNK) foldInChunk(ops, c, q, q + FOLD_CHUNK < to ? q + FOLD_CHUNK : to, seqOfFrom - from);
}

/** Twin of remove(), batched per run of one operation; bucketOf(d) inlined from the high word. */
function foldOutChunk(ops: OperationAggregate[], c: FoldColumns, from: number, to: number, seqBase: number): void {
  const dur = c.dur;
  const words = c.durWords;
  const okCol = c.ok;
  const opCol = c.op;
  const job = c.job;
  const stage = c.stage;
  const err = c.err;
  const pool = c.pool;
  const segPages = pool.segPages; // only alloc() adds segments, compact() runs after the fold
  const segSince = pool.segSince;
  const segSum = pool.segSum;
  const total = pool.total;
  const hiWord = HI_WORD;
  const shift = BUCKET_SHIFT;
  const base = BUCKET_BASE;
  const lastBucket = BUCKETS - 1;
  const subBits = SUB_BITS;
  const pageBits = PAGE_BITS;
  const pageMask = PAGE_MASK;
  let o = opCol[from]!;
  let a = ops[o]!;
  let oct = a.oct;
  let pageOf = a.pageOf;
  let min = a.min;
  let max = a.max;
  let n = 0;
  let sum = 0;
  let ok = 0;
  let hit = false;
  let jobId = 0;
  let jobN = 0;
  let stageId = 0;
  let stageN = 0;
  for (let p = from; p < to; p++) {
    const o2 = opCol[p]!;
    if (o2 !== o) {
      a.removeFolded(n, sum, ok, hit);
      o = o2;
      a = ops[o]!;
      oct = a.oct;
      pageOf = a.pageOf;
      min = a.min;
      max = a.max;
      n = 0;
      sum = 0;
      ok = 0;
      hit = false;
    }
    const d = dur[p]!;
    let b = (words[(p << 1) + hiWord]! >>> shift) - base; // bucketOf(d), inlined
    b = b < 0 ? 0 : b > lastBucket ? lastBucket : b;
    n++;
    sum += d;
    ok += okCol[p]!;
    if (d <= min || d >= max) hit = true;
    const e = b >> subBits;
    const pg = pageOf[e]!;
    if (pg !== NO_PAGE) {
      const sg = pg >>> SEG_BITS;
      if (seqBase + p >= segSince[sg]![pg & SEG_MASK]!) {
        segPages[sg]![((pg & SEG_MASK) << pageBits) | ((b >> 1) & pageMask)]--;
        segSum[sg]![pg & SEG_MASK]--;
      }
      if (--oct[e] === 0) pool.free(a, e);
    } else oct[e]--;
    total[b]--;
    const jb = job[p]!;
    const sg = stage[p]!;
    const er = err[p]!;
    if ((jb | sg | er) !== 0) {
      // Runs of one job id or stage give their references back at once (a batch's records share them).
      if (jb !== jobId) {
        if (jobN > 0) c.releaseString(jobId, jobN);
        jobId = jb;
        jobN = 0;
      }
      jobN++;
      if (sg !== stageId) {
        if (stageN > 0) c.releaseString(stageId, stageN);
        stageId = sg;
        stageN = 0;
      }
      stageN++;
      if (er !== 0) c.releaseString(er, 1);
    }
  }
  a.removeFolded(n, sum, ok, hit);
  if (jobN > 0) c.releaseString(jobId, jobN);
  if (stageN > 0) c.releaseString(stageId, stageN);
}

/** Twin of add() + link() + addCumulative(), batched per run of one operation; bucketOf(d) inlined from the high word. */
function foldInChunk(ops: OperationAggregate[], c: FoldColumns, from: number, to: number, seqBase: number): void {
  const dur = c.dur;
  const words = c.durWords;
  const okCol = c.ok;
  const opCol = c.op;
  const lnk = c.lnk;
  const pool = c.pool;
  const segPages = pool.segPages; // alloc() pushes onto these same arrays
  const segSum = pool.segSum;
  const total = pool.total;
  const hiWord = HI_WORD;
  const shift = BUCKET_SHIFT;
  const base = BUCKET_BASE;
  const lastBucket = BUCKETS - 1;
  const subBits = SUB_BITS;
  const pageBits = PAGE_BITS;
  const pageMask = PAGE_MASK;
  const boundOf = BOUND_OF_BUCKET;
  const bounds = BOUNDS_WITH_INF;
  let o = opCol[from]!;
  let a = ops[o]!;
  let oct = a.oct;
  let pageOf = a.pageOf;
  let cb = a.cumBuckets;
  let min = a.min;
  let max = a.max;
  let last = a.lastSeq;
  let n = 0;
  let sum = 0;
  let ok = 0;
  for (let p = from; p < to; p++) {
    const o2 = opCol[p]!;
    if (o2 !== o) {
      a.addFolded(n, sum, ok, min, max, last);
      o = o2;
      a = ops[o]!;
      oct = a.oct;
      pageOf = a.pageOf;
      cb = a.cumBuckets;
      min = a.min;
      max = a.max;
      last = a.lastSeq;
      n = 0;
      sum = 0;
      ok = 0;
    }
    const d = dur[p]!;
    let b = (words[(p << 1) + hiWord]! >>> shift) - base; // bucketOf(d), inlined
    b = b < 0 ? 0 : b > lastBucket ? lastBucket : b;
    n++;
    sum += d;
    ok += okCol[p]!;
    if (d < min) min = d;
    if (d > max) max = d;
    const seq = seqBase + p;
    const e = b >> subBits;
    oct[e]++;
    let pg = pageOf[e]!;
    if (pg === NO_PAGE) {
      pg = pool.alloc(a, e, seq);
    }
    if (pg !== NO_PAGE) {
      segPages[pg >>> SEG_BITS]![((pg & SEG_MASK) << pageBits) | ((b >> 1) & pageMask)]++;
      segSum[pg >>> SEG_BITS]![pg & SEG_MASK]++;
    }
    total[b]++;
    let j = boundOf[b]!;
    if (d > bounds[j]!) j++;
    cb[j]++;
    // link(), inlined
    const dist = seq - last;
    lnk[p] = last >= 0 && dist <= 0xffffffff ? dist : 0;
    last = seq;
  }
  a.addFolded(n, sum, ok, min, max, last);
}

/**
 * Records that came and left between two folds (n slots from physical p,
 * wrapping at `capacity`): into the cumulative totals only (I2), strings freed.
 */
export function foldCumulativeOnly(ops: OperationAggregate[], c: FoldColumns, p: number, n: number, capacity: number): void {
  for (let i = 0; i < n; i++) {
    const d = c.dur[p]!;
    ops[c.op[p]!]!.addCumulative(d, c.ok[p] === 1, bucketOf(d));
    if ((c.job[p]! | c.stage[p]! | c.err[p]!) !== 0) c.releaseStrings(p);
    if (++p === capacity) p = 0;
  }
}

/**
 * Recomputes min, max and sum of every aggregate whose extremes are stale
 * (I3, I4) from the held records in physical ranges [r0, r1) and [r2, r3):
 * one scan of every held record.
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
      const o = c.op[p]!;
      const d = c.dur[p]!;
      sums[o] += d;
      if (d < mins[o]!) mins[o] = d;
      if (d > maxs[o]!) maxs[o] = d;
    }
  }
  for (let o = 0; o < ops.length; o++) {
    const a = ops[o]!;
    if (a.extremesStale) {
      a.min = mins[o]!;
      a.max = maxs[o]!;
      a.sum = sums[o]!;
      a.extremesStale = false;
      a.p95Valid = false; // its clamp to [min, max] may move
    }
  }
}

/** The ring geometry a link walk needs: sequence number s is logical record s - evictedTotal. */
export interface SeqColumns {
  readonly dur: Float64Array;
  readonly lnk: Uint32Array;
  readonly evictedTotal: number;
  readonly count: number;
  physical(i: number): number;
}

/**
 * recount() for the listed aggregates only, walking each one's links (I7)
 * from its newest record back: O(their records), for when few are stale.
 */
export function recountChains(ops: readonly OperationAggregate[], c: SeqColumns, list: readonly number[]): void {
  const dur = c.dur;
  const lnk = c.lnk;
  const first = c.evictedTotal;
  for (const o of list) {
    const a = ops[o]!;
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    let s = a.lastSeq;
    while (s >= first) {
      const p = c.physical(s - first);
      const d = dur[p]!;
      sum += d;
      if (d < min) min = d;
      if (d > max) max = d;
      const k = lnk[p]!;
      if (k === 0) break;
      s -= k;
    }
    a.min = min;
    a.max = max;
    a.sum = sum;
    a.extremesStale = false;
    a.p95Valid = false;
  }
}
