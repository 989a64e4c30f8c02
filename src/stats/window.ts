/**
 * Statistics over a time window of a ring: the window's first record is
 * found by binary search on the timestamp column (see Ring.lowerBound),
 * then one pass over the typed columns fills a shared log histogram, so
 * percentiles over 1,000,000 records cost one linear scan and no sort.
 */
import { GpuField } from '../schema/gpu.js';
import { MemoryField } from '../schema/memory.js';
import type { GpuUsageStats, MemoryUsageStats, OperationSummary, ProcessingTimeStats } from '../types.js';
import type { OperationAggregate } from './aggregates.js';
import type { BucketPool } from './bucket-pool.js';
import { BUCKETS, BUCKET_BASE, BUCKET_SHIFT, HI_WORD, OCTAVES, SUB_BITS, bucketMid, bucketOf, percentilesFromCounts } from './histogram.js';

/** A ring's view of its records (src/store/ring.ts): logical record i is at physical(i). */
export interface RingView {
  readonly head: number;
  readonly count: number;
  readonly capacity: number;
  physical(i: number): number;
}

/** What the processing statistics read from the processing store (src/store/processing.ts). */
export interface ProcessingColumns extends RingView {
  readonly dur: Float64Array;
  /** 32-bit view of `dur`: a duration's histogram bucket is read from its high word (bucketOf, inlined). */
  readonly durWords: Uint32Array;
  readonly ok: Uint8Array;
  readonly op: Uint32Array;
  /** Per record, the distance back to the previous record of its operation (aggregates.ts, I7): valid after settle(). */
  readonly lnk: Uint32Array;
  /** Sequence number of logical record 0. */
  readonly evictedTotal: number;
  /** Operation id -> running aggregates (settled on read). */
  readonly ops: readonly OperationAggregate[];
  /** The aggregates' pages and the all-operations histogram (settled on read). */
  readonly pool: BucketPool;
  /** Brings the aggregates and the links up to date. */
  settle(): void;
  /** settle(), then recounts stale extremes and sums (fold.ts, recount): of one operation, or all (-1). */
  refreshExtremes(opId?: number): void;
}

/** What the memory and GPU statistics read from a sample store: one float64 column per schema column, NaN = unknown. */
export interface SampleColumns extends RingView {
  readonly values: readonly Float64Array[];
}

const QS = [0.5, 0.9, 0.95, 0.99] as const;
/** Up to this many operations, a windowed summary keeps one histogram row per operation (31 KiB each). */
const FEW_OPERATIONS = 16;
const shared = new Uint32Array(BUCKETS);
const sharedOct = new Uint32Array(OCTAVES);

/** A finite number or null: public figures are never NaN or Infinity. */
export function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}

export function emptyProcessingStats(): ProcessingTimeStats {
  return {
    count: 0,
    avgDurationMs: null,
    minDurationMs: null,
    maxDurationMs: null,
    p50DurationMs: null,
    p90DurationMs: null,
    p95DurationMs: null,
    p99DurationMs: null,
    successRate: null,
    failureCount: 0,
  };
}

function buildProcessingStats(n: number, sum: number, ok: number, min: number, max: number, ps: number[]): ProcessingTimeStats {
  if (n === 0) return emptyProcessingStats();
  return {
    count: n,
    avgDurationMs: finiteOrNull(sum / n),
    minDurationMs: finiteOrNull(min),
    maxDurationMs: finiteOrNull(max),
    p50DurationMs: finiteOrNull(ps[0]!),
    p90DurationMs: finiteOrNull(ps[1]!),
    p95DurationMs: finiteOrNull(ps[2]!),
    p99DurationMs: finiteOrNull(ps[3]!),
    successRate: (ok / n) * 100,
    failureCount: n - ok,
  };
}

/** Whole-history statistics from running aggregates: O(octaves + one octave's buckets), no scan. */
export function statsFromAggregate(a: OperationAggregate): ProcessingTimeStats {
  if (a.count === 0) return emptyProcessingStats();
  const sum = a.sum < 0 ? 0 : a.sum;
  return buildProcessingStats(a.count, sum, a.successes, a.min, a.max, a.percentiles(QS));
}

/**
 * Whole-history statistics over every operation: sums and extremes from the
 * aggregates (O(operations)), percentiles from the pool's histogram of all
 * operations together (O(buckets)).
 */
export function statsFromAllAggregates(ops: readonly OperationAggregate[], pool: BucketPool): ProcessingTimeStats {
  let n = 0;
  let sum = 0;
  let ok = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const a of ops) {
    if (a.count === 0) continue;
    n += a.count;
    sum += a.sum < 0 ? 0 : a.sum;
    ok += a.successes;
    if (a.min < min) min = a.min;
    if (a.max > max) max = a.max;
  }
  if (n === 0) return emptyProcessingStats();
  const ps = percentilesFromCounts(pool.total, 0, bucketOf(min), bucketOf(max), n, QS, min, max, []);
  return buildProcessingStats(n, sum, ok, min, max, ps);
}

/**
 * Physical ranges [a0, b0) and [a1, b1) holding logical records
 * from..count-1 (the second empty unless the window wraps).
 */
export function ranges(store: { head: number; count: number; capacity: number }, from: number): [number, number, number, number] {
  if (from >= store.count) return [0, 0, 0, 0];
  const start = store.head + from;
  const end = store.head + store.count;
  if (end <= store.capacity) return [start, end, 0, 0];
  if (start >= store.capacity) return [start - store.capacity, end - store.capacity, 0, 0];
  return [start, store.capacity, 0, end - store.capacity];
}

/**
 * Processing statistics over logical records from..count-1, optionally one
 * operation (opId >= 0). All operations: one scan of the window. One
 * operation: a walk along its links from its newest record back to the
 * window's start, so the cost follows that operation's records in the
 * window, not the window's.
 */
export function windowProcessingStats(store: ProcessingColumns, from: number, opId: number): ProcessingTimeStats {
  store.settle(); // the links are written by the fold (logical indexes do not move)
  let n = 0;
  let sum = 0;
  let ok = 0;
  let min = Infinity;
  let max = -Infinity;
  const dur = store.dur;
  const words = store.durWords;
  const okCol = store.ok;
  const hist = shared;
  const hiWord = HI_WORD;
  const shift = BUCKET_SHIFT;
  const base = BUCKET_BASE;
  const lastBucket = BUCKETS - 1;
  if (opId < 0) {
    const r = ranges(store, from);
    for (let s = 0; s < 4; s += 2) {
      const a = r[s]!;
      const b = r[s + 1]!;
      for (let p = a; p < b; p++) {
        const d = dur[p]!;
        sum += d;
        ok += okCol[p]!;
        if (d < min) min = d;
        if (d > max) max = d;
        const k = (words[(p << 1) + hiWord]! >>> shift) - base; // bucketOf(d), inlined
        hist[k < 0 ? 0 : k > lastBucket ? lastBucket : k]++;
      }
      n += b - a;
    }
  } else {
    const lnk = store.lnk;
    const head = store.head;
    const cap = store.capacity;
    const first = store.evictedTotal;
    const lo = first + from;
    let seq = store.ops[opId]!.lastSeq;
    while (seq >= lo) {
      let p = head + (seq - first);
      if (p >= cap) p -= cap;
      const d = dur[p]!;
      n++;
      sum += d;
      ok += okCol[p]!;
      if (d < min) min = d;
      if (d > max) max = d;
      const k = (words[(p << 1) + hiWord]! >>> shift) - base; // bucketOf(d), inlined
      hist[k < 0 ? 0 : k > lastBucket ? lastBucket : k]++;
      const back = lnk[p]!;
      if (back === 0) break;
      seq -= back;
    }
  }
  if (n === 0) return emptyProcessingStats();
  const lo = bucketOf(min);
  const hi = bucketOf(max);
  const ps = percentilesFromCounts(hist, 0, lo, hi, n, QS, min, max, []);
  hist.fill(0, lo, hi + 1);
  return buildProcessingStats(n, sum, ok, min, max, ps);
}

/**
 * Operation summary over logical records from..count-1: one pass that
 * groups the figures by operation (and, with few operations, fills one
 * histogram row each), then the p95 of each operation. With many
 * operations their buckets are grouped by a counting sort, and each
 * operation's p95 comes from a two-level histogram (octaves, then one
 * octave's buckets) cleared record by record: O(records + operations x
 * 190), never O(operations x buckets).
 */
export function windowOperationSummary(store: ProcessingColumns, from: number): OperationSummary[] {
  store.settle();
  const ops = store.ops;
  const nOps = ops.length;
  const counts = new Uint32Array(nOps);
  const sums = new Float64Array(nOps);
  const oks = new Uint32Array(nOps);
  const mins = new Float64Array(nOps).fill(Infinity);
  const maxs = new Float64Array(nOps).fill(-Infinity);
  const dur = store.dur;
  const words = store.durWords;
  const opCol = store.op;
  const okCol = store.ok;
  const hiWord = HI_WORD;
  const shift = BUCKET_SHIFT;
  const base = BUCKET_BASE;
  const lastBucket = BUCKETS - 1;
  const r = ranges(store, from);
  const few = nOps <= FEW_OPERATIONS;
  // Few operations: one histogram row each, filled in the same single pass.
  const rows = few ? new Uint32Array(nOps * BUCKETS) : shared;
  let total = 0;
  for (let s = 0; s < 4; s += 2) {
    const a = r[s]!;
    const b = r[s + 1]!;
    for (let p = a; p < b; p++) {
      const o = opCol[p]!;
      const d = dur[p]!;
      counts[o]++;
      sums[o] += d;
      oks[o] += okCol[p]!;
      if (d < mins[o]!) mins[o] = d;
      if (d > maxs[o]!) maxs[o] = d;
      if (few) {
        const k = (words[(p << 1) + hiWord]! >>> shift) - base; // bucketOf(d), inlined
        rows[o * BUCKETS + (k < 0 ? 0 : k > lastBucket ? lastBucket : k)]++;
      }
    }
    total += b - a;
  }
  const out: OperationSummary[] = [];
  const ps: number[] = [];
  const push = (o: number, p95: number): void => {
    const n = counts[o]!;
    out.push({
      operation: ops[o]!.name,
      count: n,
      avgDurationMs: sums[o]! / n,
      totalDurationMs: sums[o]!,
      successRate: (oks[o]! / n) * 100,
      p95DurationMs: p95,
    });
  };
  if (few) {
    for (let o = 0; o < nOps; o++) {
      if (counts[o] === 0) continue;
      const row = o * BUCKETS; // rows[row + b] counts bucket b
      percentilesFromCounts(rows, -row, row + bucketOf(mins[o]!), row + bucketOf(maxs[o]!), counts[o]!, [0.95], mins[o]!, maxs[o]!, ps);
      push(o, ps[0]!);
    }
    return out;
  }
  // Many operations: group bucket indexes by operation (counting sort), then a two-level histogram per group.
  const starts = new Uint32Array(nOps + 1);
  for (let o = 0; o < nOps; o++) starts[o + 1] = starts[o]! + counts[o]!;
  const fill = starts.slice(0, nOps);
  const grouped = new Uint16Array(total);
  for (let s = 0; s < 4; s += 2) {
    for (let p = r[s]!; p < r[s + 1]!; p++) {
      const k = (words[(p << 1) + hiWord]! >>> shift) - base;
      grouped[fill[opCol[p]!]!++] = k < 0 ? 0 : k > lastBucket ? lastBucket : k;
    }
  }
  const hist = shared;
  const oct = sharedOct;
  for (let o = 0; o < nOps; o++) {
    const n = counts[o]!;
    if (n === 0) continue;
    const g0 = starts[o]!;
    const g1 = starts[o + 1]!;
    for (let k = g0; k < g1; k++) {
      const b = grouped[k]!;
      hist[b]++;
      oct[b >> SUB_BITS]++;
    }
    push(o, twoLevelPercentile(hist, oct, n, 0.95, mins[o]!, maxs[o]!));
    for (let k = g0; k < g1; k++) {
      const b = grouped[k]!;
      hist[b] = 0;
      oct[b >> SUB_BITS] = 0;
    }
  }
  return out;
}

/** Nearest-rank percentile q of n counts in `hist` (full width) whose octave sums are `oct`: octaves first, then one octave's buckets. */
function twoLevelPercentile(hist: Uint32Array, oct: Uint32Array, n: number, q: number, min: number, max: number): number {
  const rank = Math.max(1, Math.ceil(q * n));
  let seen = 0;
  let e = bucketOf(min) >> SUB_BITS;
  while (seen + oct[e]! < rank) seen += oct[e++]!;
  for (let b = e << SUB_BITS; ; b++) {
    seen += hist[b]!;
    if (seen >= rank) {
      const m = b === 0 ? min : bucketMid(b);
      return m < min ? min : m > max ? max : m;
    }
  }
}

/** Operation summary over the whole history, from the running aggregates: O(operations x (octaves + 128)). */
export function aggregateOperationSummary(store: ProcessingColumns): OperationSummary[] {
  store.refreshExtremes(); // recounts a sum that lost precision to an evicted huge duration
  const out: OperationSummary[] = [];
  for (const a of store.ops) {
    if (a.count === 0) continue;
    const sum = a.sum < 0 ? 0 : a.sum;
    out.push({
      operation: a.name,
      count: a.count,
      avgDurationMs: sum / a.count,
      totalDurationMs: sum,
      successRate: (a.successes / a.count) * 100,
      p95DurationMs: a.p95(),
    });
  }
  return out;
}

export function emptyMemoryStats(): MemoryUsageStats {
  return {
    count: 0,
    currentUsedMb: null,
    avgUsedMb: null,
    maxUsedMb: null,
    currentPercent: null,
    currentProcessMb: null,
    avgProcessMb: null,
    maxProcessMb: null,
  };
}

/** Mean and max of a column over [from, count), NaN (unknown) skipped. */
function meanMax(store: RingView, col: Float64Array, from: number, match?: (p: number) => boolean): { mean: number; max: number } {
  let n = 0;
  let sum = 0;
  let max = -Infinity;
  const r = ranges(store, from);
  for (let s = 0; s < 4; s += 2) {
    for (let p = r[s]; p < r[s + 1]; p++) {
      if (match && !match(p)) continue;
      const v = col[p];
      if (v !== v) continue;
      n++;
      sum += v;
      if (v > max) max = v;
    }
  }
  return { mean: n > 0 ? sum / n : NaN, max };
}

export function windowMemoryStats(store: SampleColumns, from: number): MemoryUsageStats {
  const n = store.count - from;
  if (n <= 0) return emptyMemoryStats();
  const last = store.physical(store.count - 1);
  const used = store.values[MemoryField.usedMb];
  const proc = store.values[MemoryField.processMemoryMb];
  const u = meanMax(store, used, from);
  const pr = meanMax(store, proc, from);
  return {
    count: n,
    currentUsedMb: finiteOrNull(used[last]),
    avgUsedMb: finiteOrNull(u.mean),
    maxUsedMb: finiteOrNull(u.max),
    currentPercent: finiteOrNull(store.values[MemoryField.percent][last]),
    currentProcessMb: finiteOrNull(proc[last]),
    avgProcessMb: finiteOrNull(pr.mean),
    maxProcessMb: finiteOrNull(pr.max),
  };
}

export function emptyGpuStats(): GpuUsageStats {
  return {
    count: 0,
    currentLoadPercent: null,
    avgLoadPercent: null,
    maxLoadPercent: null,
    currentTemperature: null,
    avgTemperature: null,
    currentMemoryUsedMb: null,
    maxMemoryUsedMb: null,
    avgPowerWatts: null,
  };
}

/** GPU statistics over [from, count), one GPU when gpuId >= 0. "Current" is the newest matching record. */
export function windowGpuStats(store: SampleColumns, from: number, gpuId: number): GpuUsageStats {
  const ids = store.values[GpuField.gpuId];
  const match = gpuId >= 0 ? (p: number) => ids[p] === gpuId : undefined;
  let n = 0;
  let last = -1;
  const r = ranges(store, from);
  for (let s = 0; s < 4; s += 2) {
    for (let p = r[s]; p < r[s + 1]; p++) {
      if (match && !match(p)) continue;
      n++;
      last = p;
    }
  }
  if (n === 0) return emptyGpuStats();
  const v = store.values;
  const load = meanMax(store, v[GpuField.loadPercent], from, match);
  const temp = meanMax(store, v[GpuField.temperatureCelsius], from, match);
  const mem = meanMax(store, v[GpuField.memoryUsedMb], from, match);
  const power = meanMax(store, v[GpuField.powerWatts], from, match);
  return {
    count: n,
    currentLoadPercent: finiteOrNull(v[GpuField.loadPercent][last]),
    avgLoadPercent: finiteOrNull(load.mean),
    maxLoadPercent: finiteOrNull(load.max),
    currentTemperature: finiteOrNull(v[GpuField.temperatureCelsius][last]),
    avgTemperature: finiteOrNull(temp.mean),
    currentMemoryUsedMb: finiteOrNull(v[GpuField.memoryUsedMb][last]),
    maxMemoryUsedMb: finiteOrNull(mem.max),
    avgPowerWatts: finiteOrNull(power.mean),
  };
}
