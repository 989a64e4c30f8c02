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
 *      with sequence numbers >= pool.since[pg], and every held record of the
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
const FIRST_PAGES = 64;
/** Bytes of one page. */
export const PAGE_BYTES = PAGE_SIZE * 4;
/** Count of bucket b in page pg: pages[(pg << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]. */
const PAGE_MASK = PAGE_SIZE - 1;

/**
 * The pages of every operation's histogram (one store's), and the histogram
 * of all operations together. A page is PAGE_SIZE counts at
 * [page * PAGE_SIZE, (page + 1) * PAGE_SIZE) of `pages`; the array grows by
 * doubling up to `maxPages` and compacts (moving pages down, their owners'
 * pageOf updated) when three quarters are free.
 */
export class BucketPool {
  pages: Uint32Array<ArrayBuffer> = new Uint32Array(0);
  /** Per page, the sequence number of the first record it counts (I5). */
  since: Float64Array<ArrayBuffer> = new Float64Array(0);
  /** Pages `pages` has room for. */
  capacity = 0;
  /** Pages in use. */
  live = 0;
  /** Records that found their octave without a page and the pool full, since the last reset. */
  refused = 0;
  /** Held records per bucket, every operation together (I6). */
  readonly total = new Uint32Array(BUCKETS);
  private freeList: number[] = [];
  private ownerOp = new Uint32Array(0);
  private ownerOct = new Uint8Array(0);

  constructor(readonly maxPages = MAX_PAGES) {}

  /** A page for octave e of `a`, counting records from sequence number `seq` on (a.pageOf[e] is set), or NO_PAGE when the pool is full. */
  alloc(a: OperationAggregate, e: number, seq: number): number {
    if (this.freeList.length === 0) {
      if (this.capacity >= this.maxPages) {
        this.refused++;
        return NO_PAGE;
      }
      // Doubling while small, then by a quarter (less unused room, and no copy over 32 MiB).
      const next = this.capacity < 16_384 ? Math.max(FIRST_PAGES, this.capacity * 2) : this.capacity + (this.capacity >> 2);
      this.resize(Math.min(this.maxPages, next));
    }
    const pg = this.freeList.pop()!;
    this.live++;
    this.ownerOp[pg] = a.id;
    this.ownerOct[pg] = e;
    this.since[pg] = seq;
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

  /** When three quarters of the pages are free: moves the live ones down and halves (or more) the array. */
  compact(ops: readonly OperationAggregate[]): void {
    if (this.capacity <= FIRST_PAGES || this.live * 4 > this.capacity) return;
    let next = FIRST_PAGES;
    while (next < this.live * 2) next *= 2;
    const inUse = new Uint8Array(this.capacity);
    for (const a of ops) for (let e = 0; e < OCTAVES; e++) if (a.pageOf[e] !== NO_PAGE) inUse[a.pageOf[e]!] = 1;
    let hole = 0;
    for (let pg = next; pg < this.capacity; pg++) {
      if (inUse[pg] === 0) continue;
      while (inUse[hole] === 1) hole++;
      this.pages.copyWithin(hole * PAGE_SIZE, pg * PAGE_SIZE, (pg + 1) * PAGE_SIZE);
      this.since[hole] = this.since[pg]!;
      ops[this.ownerOp[pg]!]!.pageOf[this.ownerOct[pg]!] = hole;
      this.ownerOp[hole] = this.ownerOp[pg]!;
      this.ownerOct[hole] = this.ownerOct[pg]!;
      inUse[hole] = 1;
    }
    this.resize(next, inUse);
  }

  /** Reallocates to `capacity` pages (the live ones below it); rebuilds the free list from `inUse` when given. */
  private resize(capacity: number, inUse?: Uint8Array): void {
    const keep = Math.min(this.capacity, capacity);
    const pages = new Uint32Array(capacity * PAGE_SIZE);
    pages.set(this.pages.subarray(0, keep * PAGE_SIZE));
    const since = new Float64Array(capacity);
    since.set(this.since.subarray(0, keep));
    const ownerOp = new Uint32Array(capacity);
    ownerOp.set(this.ownerOp.subarray(0, keep));
    const ownerOct = new Uint8Array(capacity);
    ownerOct.set(this.ownerOct.subarray(0, keep));
    if (inUse) {
      this.freeList = [];
      for (let pg = capacity - 1; pg >= 0; pg--) if (inUse[pg] === 0) this.freeList.push(pg);
    } else {
      // Lowest index on top of the stack, so pages fill from the bottom.
      for (let pg = capacity - 1; pg >= this.capacity; pg--) this.freeList.push(pg);
    }
    this.pages = pages;
    this.since = since;
    this.ownerOp = ownerOp;
    this.ownerOct = ownerOct;
    this.capacity = capacity;
  }

  /** Every page free and every count zero (the aggregates reset their pageOf themselves). */
  reset(): void {
    this.pages = new Uint32Array(0);
    this.since = new Float64Array(0);
    this.ownerOp = new Uint32Array(0);
    this.ownerOct = new Uint8Array(0);
    this.capacity = 0;
    this.live = 0;
    this.refused = 0;
    this.freeList = [];
    this.total.fill(0);
  }

  /** Bytes held: the pages and their bookkeeping, and the all-operations histogram. */
  get byteLength(): number {
    return this.pages.byteLength + this.since.byteLength + this.ownerOp.byteLength + this.ownerOct.byteLength + this.total.byteLength + this.freeList.length * 8;
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
    this.count++;
    this.sum += durationMs;
    if (success) this.successes++;
    if (durationMs < this.min) this.min = durationMs;
    if (durationMs > this.max) this.max = durationMs;
    const e = b >> SUB_BITS;
    this.oct[e]++;
    let pg = this.pageOf[e]!;
    if (pg === NO_PAGE) pg = this.pool.alloc(this, e, seq);
    if (pg !== NO_PAGE) this.pool.pages[(pg << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]++;
    this.pool.total[b]++;
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
    const e = b >> SUB_BITS;
    const pg = this.pageOf[e]!;
    if (pg !== NO_PAGE) {
      if (seq >= this.pool.since[pg]!) this.pool.pages[(pg << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]--;
      if (--this.oct[e] === 0) this.pool.free(this, e);
    } else this.oct[e]--;
    this.pool.total[b]--;
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
    return pg === NO_PAGE ? -1 : this.pool.pages[(pg << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]!;
  }

  /**
   * Percentiles (qs ascending, 0..1) of the records in history, nearest
   * rank, in one pass: octave counts first, then the 64 counts of the page
   * of the octave a rank falls in (scaled up to the octave's count while
   * older records of it were counted without the page). Each result is its
   * bucket pair's midpoint (or its octave's, without a page) clamped to
   * [min, max].
   */
  percentiles(qs: readonly number[], out: number[] = []): number[] {
    out.length = qs.length;
    const n = this.count;
    if (n <= 0) {
      out.fill(NaN);
      return out;
    }
    const min = this.min;
    const max = this.max;
    const oct = this.oct;
    const pages = this.pool.pages;
    const eHi = bucketOf(max) >> SUB_BITS;
    let j = 0;
    let rank = Math.max(1, Math.ceil(qs[0]! * n));
    let seen = 0;
    for (let e = bucketOf(min) >> SUB_BITS; e <= eHi && j < qs.length; e++) {
      const c = oct[e]!;
      if (seen + c < rank) {
        seen += c;
        continue;
      }
      const pg = this.pageOf[e]!;
      if (pg === NO_PAGE) {
        const m = e === 0 ? min : octaveMid(e);
        const v = m < min ? min : m > max ? max : m;
        seen += c;
        while (j < qs.length && seen >= rank) {
          out[j++] = v;
          if (j < qs.length) rank = Math.max(1, Math.ceil(qs[j]! * n));
        }
        continue;
      }
      const first = pg << PAGE_BITS;
      let counted = 0;
      for (let k = 0; k < PAGE_SIZE; k++) counted += pages[first + k]!;
      const scale = counted === c ? 1 : c / counted;
      const end = seen + c;
      for (let k = 0; k < PAGE_SIZE; k++) {
        seen += pages[first + k]! * scale;
        // The last pair takes what rounding of the scaled counts left of this octave's ranks.
        while (j < qs.length && rank <= end && (seen >= rank || k === PAGE_SIZE - 1)) {
          const m = e === 0 && k === 0 ? min : pairMid(e, k);
          out[j++] = m < min ? min : m > max ? max : m;
          if (j < qs.length) rank = Math.max(1, Math.ceil(qs[j]! * n));
        }
        if (j >= qs.length || rank > end) break;
      }
      seen = end;
    }
    while (j < qs.length) out[j++] = max;
    return out;
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
  const pages = pool.pages; // only alloc() reallocates it
  const since = pool.since;
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
      if (seqBase + p >= since[pg]!) pages[(pg << pageBits) | ((b >> 1) & pageMask)]--;
      if (--oct[e] === 0) pool.free(a, e);
    } else oct[e]--;
    total[b]--;
    if ((job[p]! | stage[p]! | err[p]!) !== 0) c.releaseStrings(p);
  }
  a.removeFolded(n, sum, ok, hit);
}

/** Twin of add() + link() + addCumulative(), batched per run of one operation; bucketOf(d) inlined from the high word. */
function foldInChunk(ops: OperationAggregate[], c: FoldColumns, from: number, to: number, seqBase: number): void {
  const dur = c.dur;
  const words = c.durWords;
  const okCol = c.ok;
  const opCol = c.op;
  const lnk = c.lnk;
  const pool = c.pool;
  let pages = pool.pages;
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
      pages = pool.pages;
    }
    if (pg !== NO_PAGE) pages[(pg << pageBits) | ((b >> 1) & pageMask)]++;
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
  }
}
