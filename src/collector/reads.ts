/**
 * The collector's read side over its stores: the statistics (whole
 * history from the running aggregates, windows by binary search on the
 * time column, src/stats) and the record iterators (records built on read,
 * src/store). The facade checks the query and ingests pending samples
 * first; `now` is the collector's clock (epoch ms, monotonic).
 */
import { GpuField } from '../schema/gpu.js';
import { CUMULATIVE_BOUNDS_MS } from '../stats/aggregates.js';
import * as stats from '../stats/window.js';
import type { ProcessingView } from '../store/processing.js';
import { gpuRecordAt, iterateRecords, memoryRecordAt, processingRecordAt, windowStart } from '../store/records.js';
import type { SampleView } from '../store/samples.js';
import type {
  CumulativeOperationStats,
  GpuUsageMetric,
  GpuUsageStats,
  MemoryUsageMetric,
  MemoryUsageStats,
  OperationSummary,
  ProcessingTimeMetric,
  ProcessingTimeStats,
  RecordQuery,
  WindowQuery,
} from '../types.js';
import type { CollectorStores } from './monitoring.js';

const none = (): IterableIterator<never> => [][Symbol.iterator]();

export function processingStats(s: CollectorStores, query: (WindowQuery & { operation?: string }) | undefined, now: number): ProcessingTimeStats {
  const p = s.processing;
  const operation = query?.operation;
  const opId = operation === undefined ? -1 : p.findOperation(operation);
  if (operation !== undefined && opId < 0) return stats.emptyProcessingStats();
  // A window that holds every held record is the whole history: the running aggregates answer it.
  const from = query?.durationMinutes === undefined ? 0 : windowStart(p, query, now);
  if (from === 0) {
    p.refreshExtremes(opId);
    return opId < 0 ? stats.statsFromAllAggregates(p.ops, p.pool) : stats.statsFromAggregate(p.ops[opId]!);
  }
  return stats.windowProcessingStats(p, from, opId);
}

export function memoryStats(s: CollectorStores, query: WindowQuery | undefined, now: number): MemoryUsageStats {
  if (s.memory.count === 0) return stats.emptyMemoryStats();
  return stats.windowMemoryStats(s.memory, windowStart(s.memory, query, now));
}

export function gpuStats(s: CollectorStores, query: (WindowQuery & { gpuId?: number }) | undefined, now: number): GpuUsageStats {
  if (s.gpu.count === 0) return stats.emptyGpuStats();
  return stats.windowGpuStats(s.gpu, windowStart(s.gpu, query, now), query?.gpuId ?? -1);
}

export function operationSummary(s: CollectorStores, query: WindowQuery | undefined, now: number): OperationSummary[] {
  const from = query?.durationMinutes === undefined ? 0 : windowStart(s.processing, query, now);
  // A window from the oldest held record: the whole history, from the running aggregates (O(operations)).
  return from === 0 ? stats.aggregateOperationSummary(s.processing) : stats.windowOperationSummary(s.processing, from);
}

/** Since-start totals and fixed histogram buckets per operation, independent of trimming. */
export function cumulativeStats(s: CollectorStores): CumulativeOperationStats {
  return {
    boundsMs: CUMULATIVE_BOUNDS_MS,
    operations: s.processing.ops
      .filter((a) => a.cumCount > 0)
      .map((a) => ({ operation: a.name, count: a.cumCount, sumMs: a.cumSum, failureCount: a.cumFailures, bucketCounts: a.cumulativeBucketCounts() })),
  };
}

export function processingRecords(s: CollectorStores, query: (RecordQuery & { operation?: string }) | undefined, now: number): IterableIterator<ProcessingTimeMetric> {
  const p = s.processing;
  p.settle();
  const operation = query?.operation;
  const opId = operation === undefined ? -1 : p.findOperation(operation);
  if (operation !== undefined && opId < 0) return none();
  return iterateRecords(p, windowStart(p, query, now), (v: ProcessingView, i) => (opId < 0 || v.op[i] === opId ? processingRecordAt(v, i) : null));
}

/**
 * Every processing record held now, oldest first, through the caller's
 * `read` (a slot of the store's view into T, or null to skip it): the
 * exports write bytes straight from the columns instead of building record
 * objects. The iterator keeps processingRecords()'s guarantees (records
 * evicted meanwhile are read out first, through `read`).
 */
export function processingSlots<T>(s: CollectorStores, read: (view: ProcessingView, p: number) => T | null): IterableIterator<T> {
  const p = s.processing;
  p.settle();
  return iterateRecords(p, 0, read);
}

export function memoryRecords(s: CollectorStores, query: RecordQuery | undefined, now: number): IterableIterator<MemoryUsageMetric> {
  const m = s.memory;
  return iterateRecords(m, windowStart(m, query, now), memoryRecordAt);
}

export function gpuRecords(s: CollectorStores, query: (RecordQuery & { gpuId?: number }) | undefined, now: number): IterableIterator<GpuUsageMetric> {
  const g = s.gpu;
  const gpuId = query?.gpuId;
  const idColumn = GpuField.gpuId;
  return iterateRecords(g, windowStart(g, query, now), (v: SampleView, i) =>
    gpuId === undefined || v.values[idColumn]![i] === gpuId ? gpuRecordAt(v, i) : null,
  );
}
