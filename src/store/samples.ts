/**
 * Memory and GPU histories: rings of float64 columns (NaN = unknown) plus
 * an interned operation label. Nothing is allocated until the first record.
 */
import { Ring, type Column } from './ring.js';
import { StringTable } from './intern.js';

export class SampleStore extends Ring {
  values: Float64Array<ArrayBuffer>[];
  op = new Uint32Array(0);
  readonly strings = new StringTable();

  constructor(
    maxSize: number,
    readonly fields: readonly string[],
  ) {
    super(maxSize, [...fields.map(() => Float64Array), Uint32Array]);
    this.values = fields.map(() => new Float64Array(0));
  }

  protected getColumns(): Column[] {
    return [...this.values, this.op];
  }

  protected setColumns(c: Column[]): void {
    this.values = c.slice(0, this.fields.length) as Float64Array<ArrayBuffer>[];
    this.op = c[this.fields.length] as Uint32Array<ArrayBuffer>;
  }

  protected evict(p: number): void {
    const o = this.op[p];
    if (o !== 0) this.strings.release(o);
  }

  /** Appends one record; `row` holds one value per field, in field order. */
  push(timestamp: number, row: ArrayLike<number>, operation: string | null | undefined): void {
    const p = this.slot();
    this.ts[p] = this.monotonic(timestamp);
    for (let c = 0; c < this.values.length; c++) this.values[c][p] = row[c];
    this.op[p] = operation == null ? 0 : this.strings.acquire(operation);
  }

  override clear(): void {
    super.clear();
    this.strings.clear();
  }
}

export const MEMORY_FIELDS = ['totalMb', 'usedMb', 'availableMb', 'percent', 'processMemoryMb'] as const;
export const MemoryField = { totalMb: 0, usedMb: 1, availableMb: 2, percent: 3, processMemoryMb: 4 } as const;

export const GPU_FIELDS = [
  'gpuId',
  'loadPercent',
  'memoryUsedMb',
  'memoryTotalMb',
  'memoryPercent',
  'temperatureCelsius',
  'powerWatts',
] as const;
export const GpuField = {
  gpuId: 0,
  loadPercent: 1,
  memoryUsedMb: 2,
  memoryTotalMb: 3,
  memoryPercent: 4,
  temperatureCelsius: 5,
  powerWatts: 6,
} as const;
