/**
 * exportToJson: every record of the three types and a summary, streamed
 * and atomic (./atomic.ts), in the layout ./reader.ts reads back line by
 * line (docs/ARCHITECTURE.md "JSON export format": snake_case, ISO-8601 UTC
 * timestamps with microseconds, one record per line).
 */
import { typeError } from '../../errors.js';
import { toSnake } from '../../schema/names.js';
import type {
  GpuUsageMetric,
  GpuUsageStats,
  MemoryUsageMetric,
  MemoryUsageStats,
  OperationSummary,
  ProcessingTimeMetric,
  ProcessingTimeStats,
  RecordQuery,
} from '../../types.js';
import { ChunkWriter, writeAtomic } from './atomic.js';
import { fileStamp } from './codecs.js';
import { SCHEMAS, compileJsonLine, processingJson, processingText } from './record-text.js';

/** The collector methods the file exporters use (structural: any collector instance fits). */
export interface ExportSource {
  /** Takes in the native sampler's pending records (called first when present). */
  ingestSamples?(): unknown;
  processingRecords(query?: RecordQuery & { operation?: string }): Iterable<ProcessingTimeMetric>;
  memoryRecords(query?: RecordQuery): Iterable<MemoryUsageMetric>;
  gpuRecords(query?: RecordQuery & { gpuId?: number }): Iterable<GpuUsageMetric>;
  getProcessingTimeStats(query?: { operation?: string; durationMinutes?: number }): ProcessingTimeStats;
  getMemoryUsageStats(query?: { durationMinutes?: number }): MemoryUsageStats;
  getGpuUsageStats(query?: { gpuId?: number; durationMinutes?: number }): GpuUsageStats;
  getOperationSummary(query?: { durationMinutes?: number }): OperationSummary[];
}

export const PERFPROBE_VERSION: string = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();

const memoryJson = compileJsonLine(SCHEMAS.memory);
const gpuJson = compileJsonLine(SCHEMAS.gpu);

async function writeArray<T>(out: ChunkWriter, key: string, records: Iterable<T>, toJson: (r: T) => string, limit: number): Promise<void> {
  let p = out.push(`,\n"${key}":[`);
  if (p) await p;
  let first = true;
  let n = 0;
  for (const r of records) {
    if (++n > limit) break;
    p = out.push(first ? `\n${toJson(r)}` : `,\n${toJson(r)}`);
    first = false;
    if (p) await p;
  }
  p = out.push(']');
  if (p) await p;
}

/**
 * Writes every record of the three types and a summary to
 * `directory/metrics_YYYYMMDD_HHMMSS.json`; resolves to the path written.
 * The summary is computed first and at most as many records as it counted
 * are written per type, so records added while the file is being written
 * do not make the two disagree.
 */
export async function exportJson(source: ExportSource, directory: string): Promise<string> {
  if (typeof directory !== 'string' || directory.length === 0) {
    throw typeError('exportDirectory', 'a non-empty string', directory);
  }
  source.ingestSamples?.();
  const now = Date.now();
  const summary = {
    operations: source.getOperationSummary().map(toSnake),
    processing_stats: toSnake(source.getProcessingTimeStats()),
    memory_stats: toSnake(source.getMemoryUsageStats()),
    gpu_stats: toSnake(source.getGpuUsageStats()),
  };
  // The records the summary counted: iterators made now, before the file is opened.
  const processing = source.processingRecords();
  const memory = source.memoryRecords();
  const gpu = source.gpuRecords();
  const t = processingText();
  return writeAtomic('exportToJson', directory, `metrics_${fileStamp(new Date(now))}`, '.json', async (write) => {
    const out = new ChunkWriter(write);
    out.push(`{"export_time":${JSON.stringify(new Date(now).toISOString())},"perfprobe_version":${JSON.stringify(PERFPROBE_VERSION)}`);
    const lim = (n: unknown): number => (typeof n === 'number' ? n : Infinity);
    await writeArray(out, SCHEMAS.processing.arrayKey, processing, (r) => processingJson(r, t), lim(summary.processing_stats.count));
    await writeArray(out, SCHEMAS.memory.arrayKey, memory, (r) => memoryJson(r, t), lim(summary.memory_stats.count));
    await writeArray(out, SCHEMAS.gpu.arrayKey, gpu, (r) => gpuJson(r, t), lim(summary.gpu_stats.count));
    out.push(`,\n"summary":${JSON.stringify(summary)}}\n`);
    await out.end();
  });
}
