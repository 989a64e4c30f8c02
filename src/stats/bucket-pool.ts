/**
 * The pages of the per-operation histograms (src/stats/aggregates.ts: an
 * octave that holds records has a page of 64 counts while the pool can give
 * one) and the histogram of every operation together. Bounded: at most
 * MAX_PAGES pages (32 MiB), grown and shrunk a 64 KiB segment at a time.
 * The invariants the pages keep (I5, I6) are written in aggregates.ts.
 */
import { BUCKETS, OCTAVE_BUCKETS, OCTAVES, SUB_BITS } from './histogram.js';

/** What the pool needs of a page's owner: its id and its octaves' page indexes (an OperationAggregate). */
export interface PageOwner {
  readonly id: number;
  readonly pageOf: Uint32Array;
}

/** pageOf entry of an octave without a page. */
export const NO_PAGE = 0xffffffff;
/** Counts per page: one per pair of buckets of an octave. */
export const PAGE_SIZE = OCTAVE_BUCKETS >> 1;
export const PAGE_BITS = SUB_BITS - 1;
/** Most pages a pool holds: 131,072 x 256 B = 32 MiB. */
export const MAX_PAGES = 1 << 17;
/** Bytes of one page. */
export const PAGE_BYTES = PAGE_SIZE * 4;
/** Pages per segment: the pool grows and shrinks a segment (64 KiB of counts) at a time. */
export const SEG_BITS = 8;
export const SEG_PAGES = 1 << SEG_BITS;
export const SEG_MASK = SEG_PAGES - 1;
/** Count of bucket b in page pg: segPages[pg >>> SEG_BITS][((pg & SEG_MASK) << PAGE_BITS) | ((b >> 1) & PAGE_MASK)]. */
export const PAGE_MASK = PAGE_SIZE - 1;

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
  alloc(a: PageOwner, e: number, seq: number): number {
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
  free(a: PageOwner, e: number): void {
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
  compact(ops: readonly PageOwner[]): void {
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

