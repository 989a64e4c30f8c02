/**
 * Public shapes of the ground floor: metric types, record metadata,
 * statistics, configuration and queries, in camelCase. The records
 * themselves (ProcessingTimeMetric, MemoryUsageMetric, GpuUsageMetric) and
 * the probe readings are defined with their schemas in src/schema/.
 * Timestamps are milliseconds since the Unix epoch (UTC), fractional.
 * Empty statistics have count 0 and null for every figure (never NaN).
 */
export type { ProcessingTimeMetric } from './schema/processing.js';
export type { MemoryUsageMetric, MemoryReading } from './schema/memory.js';
export type { GpuUsageMetric, GpuReading, GpuProcess, GpuStatus } from './schema/gpu.js';

export { METRIC_TYPES, type MetricType } from './schema/record.js';

export interface MetricMeta {
  photoId?: number;
  jobId?: string;
  stage?: string;
}

export interface RecordMeta extends MetricMeta {
  success?: boolean;
  errorMessage?: string;
}

export interface ProcessingTimeStats {
  count: number;
  avgDurationMs: number | null;
  minDurationMs: number | null;
  maxDurationMs: number | null;
  p50DurationMs: number | null;
  p90DurationMs: number | null;
  p95DurationMs: number | null;
  p99DurationMs: number | null;
  /** Percent, 0-100. */
  successRate: number | null;
  failureCount: number;
}

export interface MemoryUsageStats {
  count: number;
  currentUsedMb: number | null;
  avgUsedMb: number | null;
  maxUsedMb: number | null;
  currentPercent: number | null;
  currentProcessMb: number | null;
  avgProcessMb: number | null;
  maxProcessMb: number | null;
}

export interface GpuUsageStats {
  count: number;
  currentLoadPercent: number | null;
  avgLoadPercent: number | null;
  maxLoadPercent: number | null;
  currentTemperature: number | null;
  avgTemperature: number | null;
  currentMemoryUsedMb: number | null;
  maxMemoryUsedMb: number | null;
  avgPowerWatts: number | null;
}

export interface OperationSummary {
  operation: string;
  count: number;
  avgDurationMs: number;
  totalDurationMs: number;
  successRate: number;
  p95DurationMs: number;
}

export interface CollectorConfig {
  /** Per metric type; default 10,000. */
  maxHistorySize: number;
  /** Periodic JSON export; 0 = off (default). */
  autoExportIntervalSec: number;
  /** Default 'data/metrics'. */
  exportDirectory: string;
  enableGpuTracking: boolean;
  enableMemoryTracking: boolean;
  /** Background sampling interval, 1 ms to 24 h; default 60,000 as the seed's 60 s. */
  memorySampleIntervalMs: number;
  /** Distinct operation names kept before records go to the overflow operation; default 10,000. */
  maxOperations: number;
  /** Write a final JSON export on normal exit and SIGTERM; default false. */
  exportOnExit: boolean;
}

export interface WindowQuery {
  /** Only records from the last N minutes (positive, finite). */
  durationMinutes?: number;
}

export interface RecordQuery extends WindowQuery {
  /** Only records with timestamp > since (epoch ms). */
  since?: number;
}

/**
 * Running totals per operation since the collector started (or was
 * cleared), independent of history trimming: what Prometheus histograms
 * and counters are built from. O(operations) to produce.
 */
export interface CumulativeOperationStats {
  /** Histogram upper bounds in ms, ascending, +Inf excluded. */
  boundsMs: readonly number[];
  operations: Array<{
    operation: string;
    count: number;
    sumMs: number;
    failureCount: number;
    /** Cumulative counts: bucketCounts[i] = records with durationMs <= boundsMs[i]. */
    bucketCounts: readonly number[];
  }>;
}
