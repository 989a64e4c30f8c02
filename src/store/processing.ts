/**
 * Processing-time history: one ring of columns
 * (timestamp 8, duration 8, photo id 8, operation 4, job 4, stage 4,
 * error 4, success 1), plus the per-operation running aggregates that the
 * ring keeps equal to its contents as it evicts. 43 bytes with the
 * cached histogram bucket (2).
 */
import { OperationAggregate } from '../stats/aggregates.js';
import { bucketOf } from '../stats/histogram.js';
import { Ring, type Column } from './ring.js';
import { StringTable } from './intern.js';

export const OVERFLOW_OPERATION = '__overflow__';
/** Error messages longer than this are cut (memory stays bounded). */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;

export class ProcessingStore extends Ring {
  dur = new Float64Array(0);
  /** 32-bit view of `dur`: the high words give histogram buckets without a float store. */
  durWords = new Uint32Array(0);
  photo = new Float64Array(0);
  op = new Uint32Array(0);
  job = new Uint32Array(0);
  stage = new Uint32Array(0);
  err = new Uint32Array(0);
  ok = new Uint8Array(0);
  /** Histogram bucket of each duration, so eviction need not recompute it. */
  bkt = new Uint16Array(0);

  /** jobId, stage and error message strings. */
  readonly strings = new StringTable();
  /** Operation id -> aggregates (operations are never forgotten until clear()). */
  readonly ops: OperationAggregate[] = [];
  private readonly opIds = new Map<string, number>();
  private lastOpName = '';
  private lastOpId = -1;
  overflowWarned = false;

  constructor(
    maxSize: number,
    public maxOperations: number,
    private readonly onOverflow: (name: string) => void = () => {},
  ) {
    super(maxSize, [Float64Array, Float64Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint8Array, Uint16Array]);
  }

  protected getColumns(): Column[] {
    return [this.dur, this.photo, this.op, this.job, this.stage, this.err, this.ok, this.bkt];
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
    this.bkt = c[7] as Uint16Array<ArrayBuffer>;
  }

  protected evict(p: number): void {
    this.ops[this.op[p]].remove(this.dur[p], this.ok[p] === 1, this.bkt[p]);
    const j = this.job[p];
    if (j !== 0) this.strings.release(j);
    const g = this.stage[p];
    if (g !== 0) this.strings.release(g);
    const e = this.err[p];
    if (e !== 0) this.strings.release(e);
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
    this.lastOpName = name;
    this.lastOpId = id;
    return id;
  }

  private newOperation(name: string): number {
    const id = this.ops.length;
    this.ops.push(new OperationAggregate(name));
    this.opIds.set(name, id);
    return id;
  }

  /** Operation id if known, else -1. */
  findOperation(name: string): number {
    return this.opIds.get(name) ?? -1;
  }

  /**
   * Appends one record. Strings are interned here; `photoId` is NaN for
   * none. `cumulative` false skips the since-start totals (re-sorting).
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
    cumulative = true,
  ): void {
    const p = this.slot();
    if (timestamp < this.lastTimestamp) timestamp = this.lastTimestamp;
    else this.lastTimestamp = timestamp;
    this.ts[p] = timestamp;
    this.dur[p] = durationMs;
    this.op[p] = opId;
    this.photo[p] = photoId;
    this.ok[p] = success ? 1 : 0;
    this.job[p] = jobId == null ? 0 : this.strings.acquire(jobId);
    this.stage[p] = stage == null ? 0 : this.strings.acquire(stage);
    this.err[p] =
      errorMessage == null
        ? 0
        : this.strings.acquire(
            errorMessage.length > MAX_ERROR_MESSAGE_LENGTH ? errorMessage.slice(0, MAX_ERROR_MESSAGE_LENGTH) : errorMessage,
          );
    const b = bucketOf(durationMs);
    this.bkt[p] = b;
    if (cumulative) this.ops[opId].addBoth(durationMs, success, b);
    else this.ops[opId].add(durationMs, success, b);
  }

  /** Recomputes min/max of aggregates whose extreme value was evicted: one scan, rare. */
  refreshExtremes(): void {
    let stale = false;
    for (const a of this.ops) if (a.extremesStale) stale = true;
    if (!stale) return;
    const mins = new Float64Array(this.ops.length).fill(Infinity);
    const maxs = new Float64Array(this.ops.length).fill(-Infinity);
    for (let i = 0; i < this.count; i++) {
      const p = this.physical(i);
      const o = this.op[p];
      const d = this.dur[p];
      if (d < mins[o]) mins[o] = d;
      if (d > maxs[o]) maxs[o] = d;
    }
    for (let o = 0; o < this.ops.length; o++) {
      const a = this.ops[o];
      if (a.extremesStale) {
        a.min = mins[o];
        a.max = maxs[o];
        a.extremesStale = false;
      }
    }
  }

  /** Clears records, strings and operations (cumulative totals too). */
  override clear(): void {
    super.clear();
    this.strings.clear();
    this.ops.length = 0;
    this.opIds.clear();
    this.lastOpName = '';
    this.lastOpId = -1;
    this.overflowWarned = false;
  }

  /** Clears records but keeps operations and their cumulative totals (used when re-sorting). */
  clearHistory(): void {
    super.clear();
    this.strings.clear();
    for (const a of this.ops) a.resetHistory();
  }
}
