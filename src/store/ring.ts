/**
 * A bounded ring of typed-array columns that allocates as it fills: an
 * empty history holds no arrays, and capacity doubles up to `maxSize`.
 * Once full, each push evicts the oldest record (subclasses update their
 * aggregates in `evict`). Timestamps are kept non-decreasing so a time
 * window is found by binary search.
 *
 * Invariant: while count < capacity the ring is linear (head = 0).
 */
export type Column = Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Uint16Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;
type ColumnCtor = new (length: number) => Column;

const FIRST_CAPACITY = 64;

export abstract class Ring {
  capacity = 0;
  head = 0;
  count = 0;
  /** Timestamps, epoch ms. */
  ts: Float64Array<ArrayBuffer> = new Float64Array(0);
  lastTimestamp = -Infinity;
  /** Records dropped from the front since creation (iterators use it to stay on their record). */
  evictedTotal = 0;
  /** Bumped by clear(): iterators stop when it changes. */
  generation = 0;

  constructor(
    public maxSize: number,
    private readonly columnTypes: readonly ColumnCtor[],
  ) {}

  /** The columns, `ts` first, in `columnTypes` order after it. */
  protected abstract getColumns(): Column[];
  protected abstract setColumns(columns: Column[]): void;
  /** Called with the physical index of a record about to be overwritten or dropped. */
  protected abstract evict(p: number): void;

  /** Physical index of logical record i (0 = oldest). */
  physical(i: number): number {
    const p = this.head + i;
    return p < this.capacity ? p : p - this.capacity;
  }

  /** Reserves the slot for a new record and returns its physical index. */
  protected slot(): number {
    if (this.count < this.capacity) return this.count++;
    if (this.capacity < this.maxSize) {
      this.reallocate(Math.min(this.maxSize, Math.max(FIRST_CAPACITY, this.capacity * 2)));
      return this.count++;
    }
    const p = this.head;
    this.evict(p);
    this.evictedTotal++;
    this.head = p + 1 === this.capacity ? 0 : p + 1;
    return p;
  }

  /** Clamps a timestamp so the column stays sorted. */
  protected monotonic(timestamp: number): number {
    if (timestamp < this.lastTimestamp) return this.lastTimestamp;
    this.lastTimestamp = timestamp;
    return timestamp;
  }

  /** Changes the bound; a smaller one drops the oldest records at once. */
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    if (this.count > maxSize) {
      const drop = this.count - maxSize;
      for (let i = 0; i < drop; i++) this.evict(this.physical(i));
      this.head = this.physical(drop);
      this.count = maxSize;
      this.evictedTotal += drop;
      this.reallocate(maxSize);
    } else if (this.capacity > maxSize) {
      this.reallocate(maxSize);
    }
  }

  /** Copies the live records, oldest first, into fresh arrays of `capacity`. */
  private reallocate(capacity: number): void {
    const old = [this.ts, ...this.getColumns()];
    const types: ColumnCtor[] = [Float64Array, ...this.columnTypes];
    const next: Column[] = [];
    const firstLen = Math.min(this.count, this.capacity - this.head);
    for (let c = 0; c < old.length; c++) {
      const col = new types[c](capacity);
      const src = old[c];
      if (this.count > 0) {
        col.set(src.subarray(this.head, this.head + firstLen) as never, 0);
        if (firstLen < this.count) col.set(src.subarray(0, this.count - firstLen) as never, firstLen);
      }
      next.push(col);
    }
    this.ts = next[0] as Float64Array<ArrayBuffer>;
    this.setColumns(next.slice(1));
    this.capacity = capacity;
    this.head = 0;
  }

  /** Drops every record and frees the arrays. */
  clear(): void {
    const types: ColumnCtor[] = [...this.columnTypes];
    this.ts = new Float64Array(0);
    this.setColumns(types.map((T) => new T(0)));
    this.capacity = 0;
    this.head = 0;
    this.count = 0;
    this.lastTimestamp = -Infinity;
    this.generation++;
  }

  /** First logical index whose timestamp is >= t (count if none). */
  lowerBound(t: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[this.physical(mid)] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First logical index whose timestamp is > t (count if none). */
  upperBound(t: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[this.physical(mid)] <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Bytes held by the columns. */
  get byteLength(): number {
    let n = this.ts.byteLength;
    for (const c of this.getColumns()) n += c.byteLength;
    return n;
  }
}
