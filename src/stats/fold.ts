/**
 * The fold: the store's batched updates of the running aggregates
 * (./aggregates.ts, where invariants I1-I7 are written) as records are
 * folded in and out, and the recounts of stale extremes. The loops are
 * hand-inlined twins of OperationAggregate's add()/remove()/addCumulative()/
 * link(): any change to one must be made to its twin.
 */
import { BUCKETS, BUCKET_BASE, BUCKET_SHIFT, HI_WORD, SUB_BITS, bucketOf } from './histogram.js';
import { NO_PAGE, PAGE_BITS, PAGE_MASK, SEG_BITS, SEG_MASK, type BucketPool } from './bucket-pool.js';
import { BOUNDS_WITH_INF, BOUND_OF_BUCKET, type OperationAggregate } from './aggregates.js';

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
  // The pool's constants as locals: imported, they would be loads from another module's exports inside the loop.
  const noPage = NO_PAGE;
  const segBits = SEG_BITS;
  const segMask = SEG_MASK;
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
    if (pg !== noPage) {
      const sg = pg >>> segBits;
      if (seqBase + p >= segSince[sg]![pg & segMask]!) {
        segPages[sg]![((pg & segMask) << pageBits) | ((b >> 1) & pageMask)]--;
        segSum[sg]![pg & segMask]--;
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
  // The pool's constants as locals: imported, they would be loads from another module's exports inside the loop.
  const noPage = NO_PAGE;
  const segBits = SEG_BITS;
  const segMask = SEG_MASK;
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
    if (pg === noPage) {
      pg = pool.alloc(a, e, seq);
    }
    if (pg !== noPage) {
      segPages[pg >>> segBits]![((pg & segMask) << pageBits) | ((b >> 1) & pageMask)]++;
      segSum[pg >>> segBits]![pg & segMask]++;
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

