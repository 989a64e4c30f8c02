/**
 * Memory and GPU histories: a ring of one float64 column per column of the
 * metric type's schema (MEMORY_SCHEMA, GPU_SCHEMA; NaN = unknown) plus an
 * interned operation label. Nothing is allocated until the first record.
 */
import type { SampleSchema } from '../schema/record.js';
import { Ring, type Column } from './ring.js';
import { StringTable } from './intern.js';

/** What a sample record reader reads (the store, or what clear() left to an open snapshot). */
export interface SampleView {
  readonly ts: Float64Array;
  readonly values: readonly Float64Array[];
  readonly op: Uint32Array;
  readonly strings: StringTable;
}

export class SampleStore extends Ring implements SampleView {
  values: Float64Array<ArrayBuffer>[];
  op = new Uint32Array(0);
  /** Operation labels (replaced, never emptied, by clear(): an open snapshot may still read the old one). */
  strings = new StringTable();
  readonly width: number;

  constructor(
    maxSize: number,
    readonly schema: SampleSchema,
  ) {
    super(maxSize, [...schema.columns.map(() => Float64Array), Uint32Array]);
    this.width = schema.columns.length;
    this.values = schema.columns.map(() => new Float64Array(0));
  }

  protected getColumns(): Column[] {
    return [...this.values, this.op];
  }

  protected setColumns(c: Column[]): void {
    this.values = c.slice(0, this.width) as Float64Array<ArrayBuffer>[];
    this.op = c[this.width] as Uint32Array<ArrayBuffer>;
  }

  protected view(): SampleView {
    return { ts: this.ts, values: this.values, op: this.op, strings: this.strings };
  }

  protected evict(p: number): void {
    const o = this.op[p];
    if (o !== 0) this.strings.release(o);
  }

  /** Appends one record; `row` holds one value per schema column, in column order. */
  push(timestamp: number, row: ArrayLike<number>, operation: string | null | undefined): void {
    this.pushFrom(timestamp, row, null, operation);
  }

  /**
   * Appends one record taking column c from row[index[c]] (index null: row
   * is in column order). Lets a decoded row wider than the schema be stored
   * without a copy.
   */
  pushFrom(timestamp: number, row: ArrayLike<number>, index: ArrayLike<number> | null, operation: string | null | undefined): void {
    const p = this.slot();
    this.ts[p] = this.monotonic(timestamp);
    const v = this.values;
    if (index === null) for (let c = 0; c < v.length; c++) v[c][p] = row[c];
    else for (let c = 0; c < v.length; c++) v[c][p] = row[index[c]];
    this.op[p] = operation == null ? 0 : this.strings.acquire(operation);
  }

  override clear(): void {
    super.clear();
    this.strings = new StringTable();
    this.invalidateView();
  }
}
