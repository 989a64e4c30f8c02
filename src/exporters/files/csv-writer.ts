/**
 * exportToCsv: one metric type as CSV (RFC 4180, CRLF, the schema's
 * snake_case columns in schema order), streamed and atomic (./atomic.ts);
 * string cells neutralised against formula injection (./codecs.ts csvText).
 */
import { typeError } from '../../errors.js';
import type { GpuUsageMetric, MemoryUsageMetric, MetricType, ProcessingTimeMetric } from '../../types.js';
import { writeAtomic } from './atomic.js';
import { ByteSink } from './byte-sink.js';
import { fileStamp } from './codecs.js';
import { ProcessingRows, writeRows } from './slot-rows.js';
import type { ExportSource } from './json-writer.js';
import { SCHEMAS, compileCsvLine, csvHeader, processingBytes, textState, writeProcessingCsv } from './record-text.js';

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
  const t = processingBytes();
  const ts = textState();
  const rows = new ProcessingRows('csv', t, limit);
  const slots = type === 'processing' ? source.processingSlots?.(rows.read) : undefined;
  const [records, line] =
    type === 'processing'
      ? [slots ?? source.processingRecords(), (r: ProcessingTimeMetric, o: ByteSink) => writeProcessingCsv(r, t, o)]
      : type === 'memory'
        ? [source.memoryRecords(), (r: MemoryUsageMetric, o: ByteSink) => o.text(memoryCsv(r, ts))]
        : [source.gpuRecords(), (r: GpuUsageMetric, o: ByteSink) => o.text(gpuCsv(r, ts))];
  const toCsv = line as (r: unknown, o: ByteSink) => void;
  return writeAtomic('exportToCsv', directory, `${type}_metrics_${fileStamp(new Date(now))}`, '.csv', async (write) => {
    const out = new ByteSink(write);
    out.text(`${csvHeader(SCHEMAS[type])}\r\n`);
    if (slots !== undefined) {
      await writeRows(rows, slots, out);
      await out.end();
      return;
    }
    let n = 0;
    for (const r of records as Iterable<unknown>) {
      if (++n > limit) break;
      toCsv(r, out);
      const p = out.maybeFlush();
      if (p) await p;
    }
    await out.end();
  });
}
