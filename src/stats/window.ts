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
import { BUCKETS, bucketOf, percentilesFromCounts } from './histogram.js';

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
  /** Histogram bucket of each duration: valid after settle(). */
  readonly bkt: Uint16Array;
  readonly ok: Uint8Array;
  readonly op: Uint32Array;
  /** Operation id -> running aggregates (settled on read). */
  readonly ops: readonly OperationAggregate[];
  /** Brings the aggregates and the bucket column up to date. */
  settle(): void;
  /** settle(), then recounts stale extremes and sums (aggregates.ts, recount). */
  refreshExtremes(): void;
}

/** What the memory and GPU statistics read from a sample store: one float64 column per schema column, NaN = unknown. */
export interface SampleColumns extends RingView {
  readonly values: readonly Float64Array[];
}

const QS = [0.5, 0.9, 0.95, 0.99] as const;
/** Up to this many operations, a windowed summary keeps one histogram row per operation (31 KiB each). */
const FEW_OPERATIONS = 16;
const shared = new Uint32Array(BUCKETS);

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
    p50DurationMs: finiteOrNull(ps[0]),
    p90DurationMs: finiteOrNull(ps[1]),
    p95DurationMs: finiteOrNull(ps[2]),
    p99DurationMs: finiteOrNull(ps[3]),
    successRate: (ok / n) * 100,
    failureCount: n - ok,
  };
}

/** Whole-history statistics from running aggregates: O(buckets), no scan. */
export function statsFromAggregate(a: OperationAggregate): ProcessingTimeStats {
  if (a.count === 0) return emptyProcessingStats();
  const sum = a.sum < 0 ? 0 : a.sum;
  return buildProcessingStats(a.count, sum, a.successes, a.min, a.max, a.percentiles(QS));
}

/** Whole-history statistics over every operation: the aggregates merged, O(operations x buckets). */
export function statsFromAllAggregates(ops: readonly OperationAggregate[]): ProcessingTimeStats {
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
    a.addHistInto(shared);
  }
  if (n === 0) return emptyProcessingStats();
  const lo = bucketOf(min);
  const hi = bucketOf(max);
  const ps = percentilesFromCounts(shared, 0, lo, hi, n, QS, min, max, []);
  shared.fill(0);
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

/** Processing statistics over logical records from..count-1, optionally one operation (opId >= 0). */
export function windowProcessingStats(store: ProcessingColumns, from: number, opId: number): ProcessingTimeStats {
  store.settle(); // the bucket column is written by the fold (logical indexes do not move)
  let n = 0;
  let sum = 0;
  let ok = 0;
  let min = Infinity;
  let max = -Infinity;
  const dur = store.dur;
  const bkt = store.bkt;
  const okCol = store.ok;
  const opCol = store.op;
  const hist = shared;
  const r = ranges(store, from);
  for (let s = 0; s < 4; s += 2) {
    const a = r[s];
    const b = r[s + 1];
    if (opId < 0) {
      for (let p = a; p < b; p++) {
        const d = dur[p];
        sum += d;
        ok += okCol[p];
        if (d < min) min = d;
        if (d > max) max = d;
        hist[bkt[p]]++;
      }
      n += b - a;
    } else {
      for (let p = a; p < b; p++) {
        if (opCol[p] !== opId) continue;
        const d = dur[p];
        n++;
        sum += d;
        ok += okCol[p];
        if (d < min) min = d;
        if (d > max) max = d;
        hist[bkt[p]]++;
      }
    }
  }
  if (n === 0) return emptyProcessingStats();
  const lo = bucketOf(min);
  const hi = bucketOf(max);
  const ps = percentilesFromCounts(hist, 0, lo, hi, n, QS, min, max, []);
  hist.fill(0, lo, hi + 1);
  return buildProcessingStats(n, sum, ok, min, max, ps);
}

/** Operation summary over logical records from..count-1 (one pass to group, one histogram per operation). */
export function windowOperationSummary(store: ProcessingColumns, from: number): OperationSummary[] {
  store.settle(); // the bucket column is written by the fold (logical indexes do not move)
  const nOps = store.ops.length;
  const counts = new Uint32Array(nOps);
  const sums = new Float64Array(nOps);
  const oks = new Uint32Array(nOps);
  const mins = new Float64Array(nOps).fill(Infinity);
  const maxs = new Float64Array(nOps).fill(-Infinity);
  const dur = store.dur;
  const bkt = store.bkt;
  const opCol = store.op;
  const okCol = store.ok;
  const r = ranges(store, from);
  const out: OperationSummary[] = [];
  const ps: number[] = [];
  const row = (o: number, counts0: ArrayLike<number>, offset: number): void => {
    const n = counts[o];
    if (n === 0) return;
    percentilesFromCounts(counts0, offset, bucketOf(mins[o]) - offset, bucketOf(maxs[o]) - offset, n, [0.95], mins[o], maxs[o], ps);
    out.push({
      operation: store.ops[o].name,
      count: n,
      avgDurationMs: sums[o] / n,
      totalDurationMs: sums[o],
      successRate: (oks[o] / n) * 100,
      p95DurationMs: ps[0],
    });
  };
  if (nOps <= FEW_OPERATIONS) {
    // Few operations: one histogram row each, filled in the same single pass.
    const hists = new Uint32Array(nOps * BUCKETS);
    for (let s = 0; s < 4; s += 2) {
      for (let p = r[s]; p < r[s + 1]; p++) {
        const o = opCol[p];
        const d = dur[p];
        counts[o]++;
        sums[o] += d;
        oks[o] += okCol[p];
        if (d < mins[o]) mins[o] = d;
        if (d > maxs[o]) maxs[o] = d;
        hists[o * BUCKETS + bkt[p]]++;
      }
    }
    for (let o = 0; o < nOps; o++) row(o, hists.subarray(o * BUCKETS, (o + 1) * BUCKETS), 0);
    return out;
  }
  let total = 0;
  for (let s = 0; s < 4; s += 2) {
    const a = r[s];
    const b = r[s + 1];
    for (let p = a; p < b; p++) {
      const o = opCol[p];
      const d = dur[p];
      counts[o]++;
      sums[o] += d;
      oks[o] += okCol[p];
      if (d < mins[o]) mins[o] = d;
      if (d > maxs[o]) maxs[o] = d;
    }
    total += b - a;
  }
  // Many operations: group bucket indexes by operation (counting sort), then one histogram per group.
  const starts = new Uint32Array(nOps + 1);
  for (let o = 0; o < nOps; o++) starts[o + 1] = starts[o] + counts[o];
  const fill = starts.slice(0, nOps);
  const grouped = new Uint16Array(total);
  for (let s = 0; s < 4; s += 2) {
    for (let p = r[s]; p < r[s + 1]; p++) grouped[fill[opCol[p]]++] = bkt[p];
  }
  for (let o = 0; o < nOps; o++) {
    const n = counts[o];
    if (n === 0) continue;
    const lo = bucketOf(mins[o]);
    const hi = bucketOf(maxs[o]);
    for (let k = starts[o]; k < starts[o + 1]; k++) shared[grouped[k]]++;
    row(o, shared, 0);
    shared.fill(0, lo, hi + 1);
  }
  return out;
}

/** Operation summary over the whole history, from the running aggregates. */
export function aggregateOperationSummary(store: ProcessingColumns): OperationSummary[] {
  store.refreshExtremes(); // recounts a sum that lost precision to an evicted huge duration
  const out: OperationSummary[] = [];
  const ps: number[] = [];
  for (const a of store.ops) {
    if (a.count === 0) continue;
    const sum = a.sum < 0 ? 0 : a.sum;
    a.percentiles([0.95], ps);
    out.push({
      operation: a.name,
      count: a.count,
      avgDurationMs: sum / a.count,
      totalDurationMs: sum,
      successRate: (a.successes / a.count) * 100,
      p95DurationMs: ps[0],
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
