/**
 * A bounded ring of typed-array columns that allocates as it fills: an
 * empty history holds no arrays, and capacity doubles up to `limit`
 * (maxSize plus the subclass's slack).
 * Once full, each push evicts the oldest record. Timestamps are kept
 * non-decreasing so a time window is found by binary search.
 *
 * Eviction is two-step so subclasses can batch their bookkeeping: a push
 * into a full ring only drops the oldest record from the logical view
 * (`head`/`count`: every read sees the newest `maxSize` records), leaving
 * it physically in place as one of `stale` records just before `head`.
 * `settle()` (run when no physical slot is free, and by readers) hands the
 * stale records to `evict` and frees their slots. A subclass may ask for
 * physical slack beyond `maxSize` (`slackOf`) so that settling happens
 * once per chunk of records instead of once per push.
 *
 * Invariant: the occupied slots are the `stale + count` slots starting at
 * physical index head - stale (mod capacity).
 */
import { ErrorCode, codedError } from '../errors.js';

export type Column = Float64Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | Uint16Array<ArrayBuffer> | Uint8Array<ArrayBuffer>;
type ColumnCtor = new (length: number) => Column;

const FIRST_CAPACITY = 64;

/** Most records a snapshot holds for its reader once the ring has dropped them (README "Exports": about 20 MB of record objects). */
export const SNAPSHOT_SPILL_LIMIT = 131_072;

/**
 * What a reader reads a record from: the ring itself while it holds the
 * record, or the arrays and tables the ring let go of in clear().
 */
export interface RingImage<V> {
  readonly view: V;
  /** Sequence number of the image's logical record 0. */
  readonly first: number;
  readonly head: number;
  readonly capacity: number;
}

/**
 * The records a ring held at one moment (sequence numbers [next, end)),
 * readable to the end whatever the ring does meanwhile: a record the ring
 * is about to drop (eviction, resize) is read first into `spilled` (at most
 * SNAPSHOT_SPILL_LIMIT of them, else the snapshot fails), and clear() hands
 * over its arrays and tables instead of freeing them. A snapshot nobody
 * references any more is dropped by the ring (WeakRef).
 */
export class Snapshot<V, T> {
  /** Read results of dropped records next..next+spilled.length-1, oldest first (null: skipped by `read`). */
  spilled: Array<T | null> = [];
  spilledHead = 0;
  image: RingImage<V> | null = null;
  failed: Error | null = null;

  constructor(
    public next: number,
    readonly end: number,
    readonly read: (view: V, p: number) => T | null,
    readonly limit: number,
  ) {}

  /** Records read out for this snapshot and not yet taken. */
  get held(): number {
    return this.spilled.length - this.spilledHead;
  }
}

export abstract class Ring {
  capacity = 0;
  /** Physical index of the oldest visible record. */
  head = 0;
  /** Visible records (at most maxSize). */
  count = 0;
  /** Records dropped from the view but not yet handed to `evict` (they sit just before `head`). */
  stale = 0;
  /** maxSize + slackOf(maxSize): the most slots the columns ever hold. */
  limit = 0;
  /** Timestamps, epoch ms. */
  ts: Float64Array<ArrayBuffer> = new Float64Array(0);
  lastTimestamp = -Infinity;
  /**
   * Records dropped from the front since creation (evicted or cleared): the
   * sequence number of logical record i is evictedTotal + i, unique for the
   * ring's life (iterators and links use it to stay on their record).
   */
  evictedTotal = 0;
  /** Bumped by clear(): iterators stop when it changes. */
  generation = 0;
  /** Occupied slots (stale + count) at which slot() calls makeRoom(): the capacity, or sooner to pace settle(). */
  private checkpoint = 0;
  /** Open snapshots (snapshot()); a dead reference is pruned on the next spill. */
  private snapshots: WeakRef<Snapshot<never, unknown>>[] = [];

  constructor(
    public maxSize: number,
    private readonly columnTypes: readonly ColumnCtor[],
  ) {
    this.limit = maxSize + this.slackOf(maxSize);
  }

  /** Physical slots kept beyond maxSize (0: every push into a full ring evicts at once). */
  protected slackOf(_maxSize: number): number {
    return 0;
  }

  /**
   * Pushes after which settle() runs even while the ring has free slots (a
   * subclass whose settle() folds pushed records bounds its pause this way).
   */
  protected settleEvery(): number {
    return Infinity;
  }

  /** The columns, `ts` first, in `columnTypes` order after it. */
  protected abstract getColumns(): Column[];
  protected abstract setColumns(columns: Column[]): void;
  /** Called with the physical index and sequence number of a record about to be overwritten or dropped (from settle() or resize()). */
  protected abstract evict(p: number, seq: number): void;

  /**
   * What a snapshot's reader reads from: a plain object holding the current
   * columns and the subclass's tables (never the ring itself: clear() hands
   * this object to open snapshots and then replaces every array).
   */
  protected abstract view(): unknown;

  private cachedView: unknown = null;

  /** view(), kept until the columns or tables change (invalidateView()). */
  currentView(): unknown {
    return (this.cachedView ??= this.view());
  }

  /** The columns or a table were replaced: the next currentView() builds a new view. */
  protected invalidateView(): void {
    this.cachedView = null;
  }

  /**
   * A snapshot of logical records from..count-1 as they are now; `read`
   * turns a physical slot of `view()` (or of the image clear() left) into a
   * record, or null to skip it. `read` must not settle the ring.
   */
  snapshot<V, T>(from: number, read: (view: V, p: number) => T | null, limit = SNAPSHOT_SPILL_LIMIT): Snapshot<V, T> {
    const snap = new Snapshot<V, T>(this.evictedTotal + Math.max(0, from), this.evictedTotal + this.count, read, limit);
    if (snap.next < snap.end) this.snapshots.push(new WeakRef(snap as unknown as Snapshot<never, unknown>));
    return snap;
  }

  /** The snapshot is done (read to its end, or abandoned by its reader). */
  release(snap: object): void {
    const i = this.snapshots.findIndex((w) => w.deref() === snap);
    if (i >= 0) this.snapshots.splice(i, 1);
  }

  /**
   * Physical slot of sequence number s while the ring still holds it (a
   * stale record included), else -1.
   */
  slotOfSeq(s: number): number {
    const i = s - this.evictedTotal;
    if (i >= this.count || i < -this.stale) return -1;
    let p = this.head + i;
    if (p < 0) p += this.capacity;
    else if (p >= this.capacity) p -= this.capacity;
    return p;
  }

  /**
   * Before the records numbered [s0, s0 + n) in physical slots from p0 on
   * are dropped: every open snapshot still to read some of them reads them
   * now (in order, into its spilled list).
   */
  protected spill(s0: number, n: number, p0: number): void {
    const list = this.snapshots;
    if (list.length === 0 || n === 0) return;
    const v = this.currentView();
    for (let k = list.length - 1; k >= 0; k--) {
      const snap = list[k]!.deref() as Snapshot<unknown, unknown> | undefined;
      if (snap === undefined) {
        list.splice(k, 1);
        continue;
      }
      if (snap.failed !== null) continue;
      const from = Math.max(s0, snap.next + snap.held);
      const to = Math.min(s0 + n, snap.end);
      if (from >= to) continue;
      if (snap.held + (to - from) > snap.limit) {
        snap.failed = codedError(
          ErrorCode.snapshotOverrun,
          `the history dropped records faster than they were read: more than ${snap.limit} records were kept for one reader (maxHistorySize ${this.maxSize}); read sooner or raise maxHistorySize`,
          {},
        );
        snap.spilled = [];
        snap.spilledHead = 0;
        list.splice(k, 1);
        continue;
      }
      let p = p0 + (from - s0);
      if (p >= this.capacity) p -= this.capacity;
      for (let s = from; s < to; s++) {
        snap.spilled.push(snap.read(v, p));
        if (++p === this.capacity) p = 0;
      }
    }
  }

  /** Stale records are about to be freed: snapshots read theirs first. */
  protected spillStale(): void {
    if (this.snapshots.length === 0 || this.stale === 0) return;
    let p = this.head - this.stale;
    if (p < 0) p += this.capacity;
    this.spill(this.evictedTotal - this.stale, this.stale, p);
  }

  /** Physical index of logical record i (0 = oldest). */
  physical(i: number): number {
    const p = this.head + i;
    return p < this.capacity ? p : p - this.capacity;
  }

  /** Reserves the slot for a new record and returns its physical index (small: it inlines into push). */
  protected slot(): number {
    if (this.count === this.maxSize) {
      // Drop the oldest from the view; its slot is freed by the next settle().
      this.stale++;
      this.count--;
      this.evictedTotal++;
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    }
    if (this.stale + this.count >= this.checkpoint) this.makeRoom();
    const p = this.head + this.count++;
    return p < this.capacity ? p : p - this.capacity;
  }

  /** No free physical slot, or settleEvery() pushes since the last call: settle the stale records, and grow while below the limit. */
  private makeRoom(): void {
    const full = this.stale + this.count >= this.capacity;
    this.settle();
    if (full && this.capacity < this.limit) this.reallocate(Math.min(this.limit, Math.max(FIRST_CAPACITY, this.capacity * 2)));
    this.checkpoint = Math.min(this.capacity, this.stale + this.count + this.settleEvery());
  }

  /**
   * Hands every stale record to `evict` and frees its slot. Subclasses that
   * defer other work to it override this; an override must leave `stale` 0.
   */
  settle(): void {
    const n = this.stale;
    if (n === 0) return;
    this.spillStale();
    let p = this.head - n;
    if (p < 0) p += this.capacity;
    const seq0 = this.evictedTotal - n;
    for (let i = 0; i < n; i++) {
      this.evict(p, seq0 + i);
      if (++p === this.capacity) p = 0;
    }
    this.stale = 0;
  }

  /** Clamps a timestamp so the column stays sorted. */
  protected monotonic(timestamp: number): number {
    if (timestamp < this.lastTimestamp) return this.lastTimestamp;
    this.lastTimestamp = timestamp;
    return timestamp;
  }

  /** Changes the bound; a smaller one drops the oldest records at once. */
  resize(maxSize: number): void {
    this.settle();
    this.maxSize = maxSize;
    this.limit = maxSize + this.slackOf(maxSize);
    if (this.count > maxSize) {
      const drop = this.count - maxSize;
      this.spill(this.evictedTotal, drop, this.head);
      for (let i = 0; i < drop; i++) this.evict(this.physical(i), this.evictedTotal + i);
      this.head = this.physical(drop);
      this.count = maxSize;
      this.evictedTotal += drop;
      this.reallocate(maxSize);
    } else if (this.capacity > maxSize) {
      this.reallocate(maxSize);
    }
    this.checkpoint = Math.min(this.capacity, this.stale + this.count + this.settleEvery());
  }

  /** Copies the visible records, oldest first, into fresh arrays of `capacity` (no stale records: settle() first). */
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
    this.cachedView = null;
    this.capacity = capacity;
    this.head = 0;
  }

  /** Drops every record and frees the arrays. Sequence numbers go on (they count the dropped records as evicted). */
  clear(): void {
    const types: ColumnCtor[] = [...this.columnTypes];
    if (this.snapshots.length > 0) {
      // Open snapshots keep the arrays and tables as they are (stale records included: nothing was freed).
      const image: RingImage<unknown> = { view: this.view(), first: this.evictedTotal, head: this.head, capacity: this.capacity };
      for (const w of this.snapshots) {
        const snap = w.deref() as Snapshot<unknown, unknown> | undefined;
        if (snap !== undefined && snap.failed === null) snap.image = image;
      }
      this.snapshots = [];
    }
    this.evictedTotal += this.count;
    this.ts = new Float64Array(0);
    this.setColumns(types.map((T) => new T(0)));
    this.cachedView = null;
    this.capacity = 0;
    this.head = 0;
    this.count = 0;
    this.stale = 0;
    this.checkpoint = 0;
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
