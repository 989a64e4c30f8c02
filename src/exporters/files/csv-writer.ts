/**
 * exportToCsv: one metric type as CSV (RFC 4180, CRLF, the schema's
 * snake_case columns in schema order), streamed and atomic (./atomic.ts);
 * string cells neutralised against formula injection (./codecs.ts csvText).
 */
import { typeError } from '../../errors.js';
import type { GpuUsageMetric, MemoryUsageMetric, MetricType, ProcessingTimeMetric } from '../../types.js';
import { ChunkWriter, writeAtomic } from './atomic.js';
import { fileStamp } from './codecs.js';
import type { ExportSource } from './json-writer.js';
import { SCHEMAS, compileCsvLine, csvHeader, processingCsv, processingText } from './record-text.js';

const memoryCsv = compileCsvLine(SCHEMAS.memory);
const gpuCsv = compileCsvLine(SCHEMAS.gpu);

/** Writes one metric type to `directory/<type>_metrics_YYYYMMDD_HHMMSS.csv`; resolves to the path. */
export async function exportCsv(source: ExportSource, type: MetricType, directory: string): Promise<string> {
  if (type !== 'processing' && type !== 'memory' && type !== 'gpu') {
    throw typeError('metricType', '"processing", "memory" or "gpu"', type);
  }
  if (typeof directory !== 'string' || directory.length === 0) {
    throw typeError('exportDirectory', 'a non-empty string', directory);
  }
  source.ingestSamples?.();
  const now = Date.now();
  // At most as many rows as held now (records added while writing are left for the next export).
  const limit =
    type === 'processing'
      ? source.getProcessingTimeStats().count
      : type === 'memory'
        ? source.getMemoryUsageStats().count
        : source.getGpuUsageStats().count;
  // The records held now: iterator made before the file is opened.
  const t = processingText();
  const [records, line] =
    type === 'processing'
      ? [source.processingRecords(), (r: ProcessingTimeMetric) => processingCsv(r, t)]
      : type === 'memory'
        ? [source.memoryRecords(), (r: MemoryUsageMetric) => memoryCsv(r, t)]
        : [source.gpuRecords(), (r: GpuUsageMetric) => gpuCsv(r, t)];
  const toCsv = line as (r: unknown) => string;
  return writeAtomic('exportToCsv', directory, `${type}_metrics_${fileStamp(new Date(now))}`, '.csv', async (write) => {
    const out = new ChunkWriter(write);
    out.push(`${csvHeader(SCHEMAS[type])}\r\n`);
    let n = 0;
    for (const r of records as Iterable<unknown>) {
      if (++n > limit) break;
      const p = out.push(toCsv(r));
      if (p) await p;
    }
    await out.end();
  });
}
