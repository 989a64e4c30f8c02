/**
 * The collector: the seed's API. The module-level functions act on the
 * default collector (one per process, created on first use); the same
 * names are methods of PerformanceMetricsCollector for isolated instances.
 * exportToJson / exportToCsv need the exporters layer loaded (src/index.ts
 * does; see ./collector.ts).
 */
import { PerformanceMetricsCollector, type GpuQuery, type ProcessingQuery } from './collector.js';
import type { Timer } from './timer.js';
import type {
  CollectorConfig,
  GpuUsageMetric,
  GpuUsageStats,
  MemoryUsageMetric,
  MemoryUsageStats,
  MetricMeta,
  MetricType,
  OperationSummary,
  ProcessingTimeStats,
  RecordMeta,
  WindowQuery,
} from '../types.js';

export { PerformanceMetricsCollector, MAX_OPERATION_LENGTH } from './collector.js';
export { MAX_JOB_ID_LENGTH, MAX_STAGE_LENGTH, MAX_ERROR_MESSAGE_LENGTH } from '../schema/field.js';
export type { CollectorOptions, CollectorProbes, GpuQuery, ProcessingQuery } from './collector.js';
export type { ImportedRecords } from './import.js';
export { Timer, type TimerEndOptions } from './timer.js';
export { DEFAULT_CONFIG, CONFIG_KEYS, validateConfig } from './config.js';
export { OVERFLOW_OPERATION } from '../store/processing.js';
export { CUMULATIVE_BOUNDS_MS } from '../stats/aggregates.js';

const KEY = Symbol.for('perfprobe.defaultCollector');
type Holder = { [KEY]?: PerformanceMetricsCollector };

/** The process-wide collector (created on first use). */
export function getPerformanceMetricsCollector(): PerformanceMetricsCollector {
  const g = globalThis as Holder;
  return (g[KEY] ??= new PerformanceMetricsCollector());
}

let cached: PerformanceMetricsCollector | undefined;
function c(): PerformanceMetricsCollector {
  return (cached ??= getPerformanceMetricsCollector());
}

export function measurePerformance<T>(operation: string, fn: () => T, meta?: MetricMeta): T {
  return c().measurePerformance(operation, fn, meta);
}
export function startTimer(operation: string, meta?: MetricMeta): Timer {
  return c().startTimer(operation, meta);
}
export function recordProcessingTime(operation: string, durationMs: number, meta?: RecordMeta): void {
  c().recordProcessingTime(operation, durationMs, meta);
}
export function recordMemoryUsage(operation?: string): MemoryUsageMetric | null {
  return c().recordMemoryUsage(operation);
}
export function recordGpuUsage(operation?: string): GpuUsageMetric[] | Promise<GpuUsageMetric[]> {
  return c().recordGpuUsage(operation);
}
export function startMonitoring(): void {
  c().startMonitoring();
}
export function stopMonitoring(): void {
  c().stopMonitoring();
}
export function getProcessingTimeStats(query?: ProcessingQuery): ProcessingTimeStats {
  return c().getProcessingTimeStats(query);
}
export function getMemoryUsageStats(query?: WindowQuery): MemoryUsageStats {
  return c().getMemoryUsageStats(query);
}
export function getGpuUsageStats(query?: GpuQuery): GpuUsageStats {
  return c().getGpuUsageStats(query);
}
export function getOperationSummary(query?: WindowQuery): OperationSummary[] {
  return c().getOperationSummary(query);
}
export function clearMetrics(type?: MetricType): void {
  c().clearMetrics(type);
}
export function updateConfig(partial: Partial<CollectorConfig>): Readonly<CollectorConfig> {
  return c().updateConfig(partial);
}
export function exportToJson(): Promise<string> {
  return c().exportToJson();
}
export function exportToCsv(type?: MetricType): Promise<string> {
  return c().exportToCsv(type);
}
