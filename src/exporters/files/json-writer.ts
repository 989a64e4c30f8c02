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
import type { ProcessingView } from '../../store/processing.js';
import { writeAtomic } from './atomic.js';
import { ByteSink } from './byte-sink.js';
import { fileStamp } from './codecs.js';
import { ProcessingRows, writeRows } from './slot-rows.js';
import { SCHEMAS, compileJsonLine, processingBytes, textState, writeProcessingJson, type ProcessingBytes, type TextState } from './record-text.js';

/** The collector methods the file exporters use (structural: any collector instance fits). */
export interface ExportSource {
  /** Takes in the native sampler's pending records (called first when present). */
  ingestSamples?(): unknown;
  processingRecords(query?: RecordQuery & { operation?: string }): Iterable<ProcessingTimeMetric>;
  /** Every processing record through `read(view, slot)` (the collector's; the exports then write rows from the columns: ./slot-rows.ts). */
  processingSlots?<T>(read: (view: ProcessingView, p: number) => T | null): Iterable<T>;
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

const SEPARATOR = Buffer.from(',\n', 'latin1');

/** `,\n"key":[` then the records, one per line, then `]`; at most `limit` records. */
async function writeArray<T>(out: ByteSink, key: string, records: Iterable<T>, write: (r: T, o: ByteSink) => void, limit: number): Promise<void> {
  out.text(`,\n"${key}":[`);
  let n = 0;
  for (const r of records) {
    if (++n > limit) break;
    out.ensure(2);
    if (n === 1) out.buf[out.pos++] = 10; // \n
    else out.put(SEPARATOR);
    write(r, out);
    const p = out.maybeFlush();
    if (p) await p;
  }
  out.text(']');
}

/** A compiled string line writer as a byte writer. */
const asBytes =
  <T>(line: (r: T, t: TextState) => string, t: TextState) =>
  (r: T, o: ByteSink): void =>
    o.text(line(r, t));

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
  const lim = (n: unknown): number => (typeof n === 'number' ? n : Infinity);
  // The records the summary counted: iterators made now, before the file is opened.
  const t: ProcessingBytes = processingBytes();
  const rows = new ProcessingRows('json', t, lim(summary.processing_stats.count));
  const slots = source.processingSlots?.(rows.read);
  const processing = slots === undefined ? source.processingRecords() : null;
  const memory = source.memoryRecords();
  const gpu = source.gpuRecords();
  const ts = textState();
  return writeAtomic('exportToJson', directory, `metrics_${fileStamp(new Date(now))}`, '.json', async (write) => {
    const out = new ByteSink(write);
    out.text(`{"export_time":${JSON.stringify(new Date(now).toISOString())},"perfprobe_version":${JSON.stringify(PERFPROBE_VERSION)}`);
    if (processing !== null) {
      await writeArray(out, SCHEMAS.processing.arrayKey, processing, (r, o) => writeProcessingJson(r, t, o), lim(summary.processing_stats.count));
    } else {
      out.text(`,\n"${SCHEMAS.processing.arrayKey}":[`);
      await writeRows(rows, slots!, out);
      out.text(']');
    }
    await writeArray(out, SCHEMAS.memory.arrayKey, memory, asBytes(memoryJson, ts), lim(summary.memory_stats.count));
    await writeArray(out, SCHEMAS.gpu.arrayKey, gpu, asBytes(gpuJson, ts), lim(summary.gpu_stats.count));
    out.text(`,\n"summary":${JSON.stringify(summary)}}\n`);
    await out.end();
  });
}
