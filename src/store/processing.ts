/**
 * Processing-time history: one ring of columns
 * (timestamp 8, duration 8, photo id 8, operation 4, job 4, stage 4,
 * error 4, success 1, link 4), plus the per-operation running aggregates
 * that the ring keeps equal to its contents as it evicts. 45 bytes, plus the
 * settle slack: max(64, maxSize/16) slots, at most 4096 (45.2 bytes per
 * record at 1,000,000). The link column chains each operation's records
 * (aggregates.ts, I7): a one-operation window walks its own records only.
 *
 * push() only writes the columns. The aggregates (history figures and
 * cumulative totals) and the links are brought up to date by settle(), an
 * amortised fold that runs every FOLD_EVERY pushes or when the ring has no
 * free physical slot (once per slack's worth of records when full), so one
 * fold costs well under a millisecond, and before every read: `ops`,
 * `strings` and the window functions settle first. The fold
 * adds the records pushed since the last fold and removes the records that
 * left the view since then (still physically present as the ring's stale
 * records); a record that came and left between two folds goes into the
 * cumulative totals only. The fold loops themselves are in src/stats/fold.ts,
 * the invariants they keep in src/stats/aggregates.ts; this file decides
 * which slots they run over.
 */
import { AGGREGATE_BYTES, OperationAggregate } from '../stats/aggregates.js';
import { BucketPool, MAX_PAGES } from '../stats/bucket-pool.js';
import { foldCumulativeOnly, foldIn, foldOut, recount, recountChains, type FoldColumns } from '../stats/fold.js';
import { bucketOf } from '../stats/histogram.js';
import { ranges } from '../stats/window.js';
import { MAX_ERROR_MESSAGE_LENGTH, MAX_JOB_ID_LENGTH, MAX_STAGE_LENGTH, capString } from '../schema/field.js';
import { Ring, type Column } from './ring.js';
import { SLOT_ERROR, SLOT_JOB, SLOT_STAGE, StringTable, internalize } from './intern.js';

export const OVERFLOW_OPERATION = '__overflow__';
/** Pushes between two folds at most: a fold of 1,024 records over 10,000 operations (each record a cache miss) stays near 1 ms. */
const FOLD_EVERY = 1024;

/** What a processing record reader reads (the store, or what clear() left to an open snapshot); reading it never settles. */
export interface ProcessingView {
  readonly ts: Float64Array;
  readonly dur: Float64Array;
  readonly photo: Float64Array;
  readonly op: Uint32Array;
  readonly job: Uint32Array;
  readonly stage: Uint32Array;
  readonly err: Uint32Array;
  readonly ok: Uint8Array;
  readonly aggregates: readonly { readonly name: string }[];
  readonly table: StringTable;
}

export class ProcessingStore extends Ring implements FoldColumns, ProcessingView {
  dur = new Float64Array(0);
  /** 32-bit view of `dur`: the high words give histogram buckets without a float store. */
  durWords = new Uint32Array(0);
  photo = new Float64Array(0);
  op = new Uint32Array(0);
  job = new Uint32Array(0);
  stage = new Uint32Array(0);
  err = new Uint32Array(0);
  ok = new Uint8Array(0);
  /** Distance back to the previous record of the same operation (aggregates.ts, I7; set by the fold). */
  lnk = new Uint32Array(0);
  /** The newest `unfolded` records (stale ones included) are not yet in the aggregates. */
  unfolded = 0;
  /** The pages of every aggregate's histogram, and the all-operations histogram (read it settled). */
  pool: BucketPool;

  /** jobId, stage and error strings, unsettled (readers that may run inside settle(): ProcessingView). */
  table = new StringTable();
  /** Operation id -> aggregates, unsettled (read `ops` for settled figures). */
  aggregates: OperationAggregate[] = [];
  private readonly opIds = new Map<string, number>();
  private lastOpName = '';
  private lastOpId = -1;
  overflowWarned = false;

  constructor(
    maxSize: number,
    public maxOperations: number,
    private readonly onOverflow: (name: string) => void = () => {},
    /** Most histogram pages (aggregates.ts MAX_PAGES; smaller in tests). */
    private readonly maxPages = MAX_PAGES,
  ) {
    super(maxSize, [Float64Array, Float64Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint8Array, Uint32Array]);
    this.pool = new BucketPool(maxPages);
  }

  /** jobId, stage and error message strings (settled: strings of evicted records are gone). */
  get strings(): StringTable {
    this.settle();
    return this.table;
  }

  /** Operation id -> aggregates, settled (operations are never forgotten until clear()). */
  get ops(): OperationAggregate[] {
    this.settle();
    return this.aggregates;
  }

  /**
   * Records the fold takes at a time once the ring is full: maxSize/16,
   * at least 64 (amortisation) and at most 4096 (a fold then costs well
   * under 0.1 ms, and the slack under 0.5 % of a large history).
   */
  protected override slackOf(maxSize: number): number {
    return Math.min(4096, Math.max(64, Math.ceil(maxSize / 16)));
  }

  protected override settleEvery(): number {
    return FOLD_EVERY;
  }

  protected view(): ProcessingView {
    const { ts, dur, photo, op, job, stage, err, ok, aggregates, table } = this;
    return { ts, dur, photo, op, job, stage, err, ok, aggregates, table };
  }

  protected getColumns(): Column[] {
    return [this.dur, this.photo, this.op, this.job, this.stage, this.err, this.ok, this.lnk];
  }

  protected setColumns(c: Column[]): void {
    this.dur = c[0] as Float64Array<ArrayBuffer>;
    this.durWords = new Uint32Array(this.dur.buffer, this.dur.byteOffset, this.dur.length * 2);
    this.photo = c[1] as Float64Array<ArrayBuffer>;
    this.op = c[2] as Uint32Array<ArrayBuffer>;
    this.job = c[3] as Uint32Array<ArrayBuffer>;
    this.stage = c[4] as Uint32Array<ArrayBuffer>;
    this.err = c[5] as Uint32Array<ArrayBuffer>;
    this.ok = c[6] as Uint8Array<ArrayBuffer>;
    this.lnk = c[7] as Uint32Array<ArrayBuffer>;
  }

  /** Removes folded record `seq` in slot p (resize() settles first). */
  protected evict(p: number, seq: number): void {
    const d = this.dur[p]!;
    this.aggregates[this.op[p]!]!.remove(d, this.ok[p] === 1, bucketOf(d), seq);
    this.releaseStrings(p);
  }

  /** FoldColumns: gives back n references to string `id`. */
  releaseString(id: number, n: number): void {
    if (id !== 0) this.table.releaseN(id, n);
  }

  /** FoldColumns: gives back slot p's interned strings. */
  releaseStrings(p: number): void {
    const j = this.job[p];
    if (j !== 0) this.table.release(j);
    const g = this.stage[p];
    if (g !== 0) this.table.release(g);
    const e = this.err[p];
    if (e !== 0) this.table.release(e);
  }

  /**
   * The fold: stale records leave the history figures (or, if never
   * folded, enter the cumulative totals only) and free their slots and
   * strings; unfolded visible records enter both. O(records since the last
   * fold), over at most two contiguous runs of slots each way (the ring
   * wraps once).
   */
  override settle(): void {
    const stale = this.stale;
    const unfolded = this.unfolded;
    if (stale === 0 && unfolded === 0) return;
    if (stale > 0) this.spillStale();
    const cap = this.capacity;
    const occupied = stale + this.count;
    // Occupied index (0 = oldest stale record) of the first unfolded record.
    const firstNew = occupied - unfolded;
    let p = this.head - stale;
    if (p < 0) p += cap;
    const ops = this.aggregates;
    const removeEnd = firstNew < stale ? firstNew : stale;
    // Sequence number of occupied index k: evictedTotal - stale + k (stale records are counted as evicted).
    const seq0 = this.evictedTotal - stale;
    if (removeEnd > 0) {
      const end = p + removeEnd;
      if (end <= cap) foldOut(ops, this, p, end, seq0);
      else {
        foldOut(ops, this, p, cap, seq0);
        foldOut(ops, this, 0, end - cap, seq0 + cap - p);
      }
      p = end < cap ? end : end - cap;
    }
    // Came and went between two folds: cumulative totals only.
    if (removeEnd < stale) foldCumulativeOnly(ops, this, p, stale - removeEnd, cap);
    const start = firstNew > stale ? firstNew : stale;
    if (start < occupied) {
      const from = this.physical(start - stale);
      const end = from + (occupied - start);
      const seq = seq0 + start;
      if (end <= cap) foldIn(ops, this, from, end, seq);
      else {
        foldIn(ops, this, from, cap, seq);
        foldIn(ops, this, 0, end - cap, seq + cap - from);
      }
    }
    this.stale = 0;
    this.unfolded = 0;
    if (removeEnd > 0) this.pool.compact(ops);
  }

  /** Id of an operation name (already validated), creating it under the cap. */
  operationId(name: string): number {
    if (name === this.lastOpName) return this.lastOpId;
    let id = this.opIds.get(name);
    if (id === undefined) {
      if (this.opIds.size >= this.maxOperations + (this.opIds.has(OVERFLOW_OPERATION) ? 1 : 0)) {
        if (!this.overflowWarned) {
          this.overflowWarned = true;
          this.onOverflow(name);
        }
        id = this.opIds.get(OVERFLOW_OPERATION);
        if (id === undefined) id = this.newOperation(OVERFLOW_OPERATION);
        return id;
      }
      id = this.newOperation(name);
    }
    this.lastOpName = this.aggregates[id]!.name; // the stored copy: the cache never holds a caller's string
    this.lastOpId = id;
    return id;
  }

  /** The stored name is an internalized copy: it never retains the caller's string, and equals a literal by identity. */
  private newOperation(name: string): number {
    const id = this.aggregates.length;
    const stored = internalize(name);
    this.aggregates.push(new OperationAggregate(stored, id, this.pool));
    this.opIds.set(stored, id);
    return id;
  }

  /** Operation id if known, else -1. */
  findOperation(name: string): number {
    return this.opIds.get(name) ?? -1;
  }

  /**
   * Appends one record: column writes only (the fold does the rest), kept
   * small so it inlines into the record path. Strings are interned here;
   * `photoId` is NaN for none. `cumulative` false skips the since-start
   * totals (re-sorting; folds at once).
   */
  push(
    timestamp: number,
    opId: number,
    durationMs: number,
    success: boolean,
    photoId: number,
    jobId: string | undefined | null,
    stage: string | undefined | null,
    errorMessage: string | undefined | null,
    cumulative?: boolean,
  ): void {
    if (cumulative === false) return this.pushFolded(timestamp, opId, durationMs, success, photoId, jobId, stage, errorMessage);
    const p = this.slot();
    if (timestamp < this.lastTimestamp) timestamp = this.lastTimestamp;
    else this.lastTimestamp = timestamp;
    this.ts[p] = timestamp;
    this.dur[p] = durationMs;
    this.op[p] = opId;
    this.photo[p] = photoId;
    this.ok[p] = success ? 1 : 0;
    if (jobId == null && stage == null && errorMessage == null) {
      this.job[p] = 0;
      this.stage[p] = 0;
      this.err[p] = 0;
    } else {
      this.intern(p, jobId, stage, errorMessage);
    }
    this.unfolded++;
  }

  /** Interns the record's strings, each cut to its cap first (src/schema/field.ts capString; the table keeps flat copies). */
  private intern(p: number, jobId: string | undefined | null, stage: string | undefined | null, errorMessage: string | undefined | null): void {
    const table = this.table;
    this.job[p] = jobId == null ? 0 : table.acquire(jobId.length > MAX_JOB_ID_LENGTH ? capString(jobId, MAX_JOB_ID_LENGTH) : jobId, SLOT_JOB);
    this.stage[p] = stage == null ? 0 : table.acquire(stage.length > MAX_STAGE_LENGTH ? capString(stage, MAX_STAGE_LENGTH) : stage, SLOT_STAGE);
    this.err[p] =
      errorMessage == null
        ? 0
        : table.acquire(errorMessage.length > MAX_ERROR_MESSAGE_LENGTH ? capString(errorMessage, MAX_ERROR_MESSAGE_LENGTH) : errorMessage, SLOT_ERROR);
  }

  /** A record whose cumulative totals were counted before (re-sorting): into the history figures only, at once. */
  private pushFolded(
    timestamp: number,
    opId: number,
    durationMs: number,
    success: boolean,
    photoId: number,
    jobId: string | undefined | null,
    stage: string | undefined | null,
    errorMessage: string | undefined | null,
  ): void {
    this.settle();
    this.push(timestamp, opId, durationMs, success, photoId, jobId, stage, errorMessage);
    this.unfolded = 0;
    const p = this.physical(this.count - 1);
    const a = this.aggregates[opId]!;
    const seq = this.evictedTotal + this.count - 1;
    a.add(durationMs, success, bucketOf(durationMs), seq);
    a.link(this.lnk, p, seq);
  }

  /**
   * Recomputes min/max of aggregates whose extreme value was evicted (of
   * operation `opId`, or of all with -1). The sum is recounted in the same
   * pass: the running sum lost the low digits of every duration added while a
   * much larger one (which is the max, so its eviction lands here) was in it.
   * Few stale records: a walk along each stale operation's links; many: one
   * scan of the history.
   */
  refreshExtremes(opId = -1): void {
    this.settle();
    const ops = this.aggregates;
    if (opId >= 0) {
      if (ops[opId]?.extremesStale) recountChains(ops, this, [opId]);
      return;
    }
    const list: number[] = [];
    let records = 0;
    for (let o = 0; o < ops.length; o++) {
      if (ops[o]!.extremesStale) {
        list.push(o);
        records += ops[o]!.count;
      }
    }
    if (list.length === 0) return;
    if (records * 8 <= this.count) recountChains(ops, this, list);
    else recount(ops, this, ranges(this, 0));
  }

  /** Bytes the histograms hold: the pool's pages and every aggregate's own arrays. */
  get histogramBytes(): number {
    return this.pool.byteLength + this.aggregates.length * AGGREGATE_BYTES;
  }

  /** Clears records, strings and operations (cumulative totals too). */
  override clear(): void {
    super.clear();
    this.unfolded = 0;
    this.table = new StringTable();
    this.aggregates = [];
    this.pool = new BucketPool(this.maxPages);
    this.invalidateView();
    this.opIds.clear();
    this.lastOpName = '';
    this.lastOpId = -1;
    this.overflowWarned = false;
  }

  /** Clears records but keeps operations and their cumulative totals (used when re-sorting). */
  clearHistory(): void {
    this.settle();
    super.clear();
    this.table = new StringTable();
    this.invalidateView();
    this.pool.reset();
    for (const a of this.aggregates) a.resetHistory();
  }
}
