/**
 * Memory: the probe's reading (readMemory(), MemoryReading) and the stored
 * record (MemoryUsageMetric: history, JSON and CSV export, import). The
 * store keeps one float64 column per entry of MEMORY_SCHEMA.columns. The
 * conversion from the addon's slots (bytes) is policy, not a table: it is
 * written once, in src/probes/decode.ts.
 */
import { field } from './field.js';
import { sampleSchema } from './record.js';

export interface MemoryReading {
  /** Milliseconds since the Unix epoch when the reading was taken. */
  timestamp: number;
  totalMb: number;
  /** total - available, as `free` and the seed count it. */
  usedMb: number;
  availableMb: number;
  /** usedMb / totalMb x 100. */
  percent: number;
  /** Resident set size of this process. */
  processMemoryMb: number;
  /** Peak resident set size of this process; null where the platform does not say. */
  processPeakMb: number | null;
  swapTotalMb: number | null;
  swapUsedMb: number | null;
  /** V8 heap in use (only on the node backend and when asked; null otherwise). */
  heapUsedMb: number | null;
}

/** Figures the platform could not read are null (never NaN or 0). */
export interface MemoryUsageMetric {
  timestamp: number;
  totalMb: number | null;
  usedMb: number | null;
  availableMb: number | null;
  percent: number | null;
  processMemoryMb: number | null;
  operation: string | null;
}

export const MEMORY_SCHEMA = sampleSchema<MemoryUsageMetric>()('memory', 'memory_metrics', [
  field('timestamp', 'timestamp', 'timestamp', false, 'epoch ms', 'when the reading was taken'),
  field('totalMb', 'total_mb', 'number', true, 'MiB', 'system memory in total'),
  field('usedMb', 'used_mb', 'number', true, 'MiB', 'total - available'),
  field('availableMb', 'available_mb', 'number', true, 'MiB', 'MemAvailable (MemFree on kernels without it)'),
  field('percent', 'percent', 'number', true, '%', 'usedMb / totalMb x 100'),
  field('processMemoryMb', 'process_memory_mb', 'number', true, 'MiB', 'resident set size of this process'),
  field('operation', 'operation', 'operation', true, '', 'label given to recordMemoryUsage(operation)'),
]);

/** Store column index of each memory figure. */
export const MemoryField = MEMORY_SCHEMA.column;

/** A Prometheus / OpenTelemetry gauge of a memory reading (bytes). */
export interface MemoryGaugeSpec {
  /** The reading's key (MiB); the gauge is round(MiB x 1048576) bytes. */
  readonly reading: 'totalMb' | 'usedMb' | 'availableMb' | 'processMemoryMb' | 'processPeakMb';
  /** Key in MetricsSnapshot.memory (MemoryGauges). */
  readonly gauge: 'totalBytes' | 'usedBytes' | 'availableBytes' | 'processResidentBytes' | 'processPeakBytes';
  /** The record's key when records carry it (the gauge falls back to the newest record). */
  readonly record: keyof MemoryUsageMetric | null;
  readonly prometheus: string;
  readonly help: string;
  /** Registered by registerPromClient too. */
  readonly promClient: boolean;
  readonly otel: { readonly name: string; readonly description: string } | null;
}

export const MEMORY_GAUGES: readonly MemoryGaugeSpec[] = Object.freeze([
  { reading: 'totalMb', gauge: 'totalBytes', record: 'totalMb', prometheus: 'perfprobe_system_memory_total_bytes', help: 'Total system memory in bytes.', promClient: true, otel: { name: 'perfprobe.system.memory.total', description: 'Total system memory.' } },
  { reading: 'usedMb', gauge: 'usedBytes', record: 'usedMb', prometheus: 'perfprobe_system_memory_used_bytes', help: 'System memory in use (total - available) in bytes.', promClient: true, otel: { name: 'perfprobe.system.memory.used', description: 'System memory in use (total - available).' } },
  { reading: 'availableMb', gauge: 'availableBytes', record: 'availableMb', prometheus: 'perfprobe_system_memory_available_bytes', help: 'System memory available in bytes.', promClient: true, otel: { name: 'perfprobe.system.memory.available', description: 'System memory available.' } },
  { reading: 'processMemoryMb', gauge: 'processResidentBytes', record: 'processMemoryMb', prometheus: 'perfprobe_process_resident_memory_bytes', help: 'Resident set size of this process in bytes.', promClient: true, otel: { name: 'perfprobe.process.memory.rss', description: 'Resident set size of this process.' } },
  { reading: 'processPeakMb', gauge: 'processPeakBytes', record: null, prometheus: 'perfprobe_process_peak_resident_memory_bytes', help: 'Peak resident set size of this process in bytes.', promClient: false, otel: null },
] as const);

/** The dashboard's memory row after [timestamp]: values rounded to 2 decimals (assets/dashboard/app.js reads them by position). */
export const MEMORY_STREAM_KEYS = Object.freeze(['usedMb', 'totalMb', 'percent', 'processMemoryMb'] as const satisfies readonly (keyof MemoryUsageMetric)[]);
