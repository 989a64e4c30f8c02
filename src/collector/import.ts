/**
 * importRecords(): records read back from an export, checked against their
 * schemas first (one bad record and nothing is imported), then appended.
 * Records older than the newest held are merged in timestamp order (the
 * time column stays sorted); a merge keeps each record's cumulative totals
 * counted once.
 */
import { typeError } from '../errors.js';
import { GPU_SCHEMA, type GpuUsageMetric, type GpuUsageMetricInput } from '../schema/gpu.js';
import { MEMORY_SCHEMA, type MemoryUsageMetric } from '../schema/memory.js';
import { PROCESSING_SCHEMA, type ProcessingTimeMetric } from '../schema/processing.js';
import { checkRecord, type RecordSchema, type SampleSchema } from '../schema/record.js';
import { gpuRecordAt, memoryRecordAt, processingRecordAt } from '../store/records.js';
import { type SampleStore } from '../store/samples.js';
import type { CollectorStores } from './monitoring.js';

export interface ImportedRecords {
  processing?: ProcessingTimeMetric[];
  memory?: MemoryUsageMetric[];
  /** Records of exports written before a GPU column existed lack it: it reads null. */
  gpu?: GpuUsageMetricInput[];
}

export interface CheckedRecords {
  processing: ProcessingTimeMetric[];
  memory: MemoryUsageMetric[];
  gpu: GpuUsageMetric[];
}

/** Checks every record (errors name `processing[3].durationMs`); returns the three lists. */
export function checkImport(records: ImportedRecords): CheckedRecords {
  if (records === null || typeof records !== 'object') throw typeError('records', 'an object', records);
  const out: CheckedRecords = { processing: records.processing ?? [], memory: records.memory ?? [], gpu: (records.gpu ?? []) as GpuUsageMetric[] };
  for (const [name, schema] of [
    ['processing', PROCESSING_SCHEMA],
    ['memory', MEMORY_SCHEMA],
    ['gpu', GPU_SCHEMA],
  ] as const) {
    const list: unknown = out[name];
    if (!Array.isArray(list)) throw typeError(`records.${name}`, 'an array', list);
    for (let i = 0; i < list.length; i++) checkRecord(schema as RecordSchema, list[i], `${name}[${i}]`, 'key');
  }
  return out;
}

/** Appends checked records to the stores. */
export function appendImport(stores: CollectorStores, records: CheckedRecords): void {
  appendProcessing(stores, records.processing);
  appendSamples(stores.memory, MEMORY_SCHEMA, records.memory, memoryRecordAt);
  appendSamples(stores.gpu, GPU_SCHEMA, records.gpu, gpuRecordAt);
}

function appendProcessing(stores: CollectorStores, list: ProcessingTimeMetric[]): void {
  if (list.length === 0) return;
  const s = stores.processing;
  const incoming = list.map((r, i) => ({ r, i, fresh: true })).sort((a, b) => a.r.timestamp - b.r.timestamp || a.i - b.i);
  let all = incoming;
  if (incoming[0]!.r.timestamp < s.lastTimestamp) {
    // Older than what is held: re-sort everything; held records keep the cumulative totals they already counted.
    s.settle();
    const held: typeof incoming = [];
    for (let i = 0; i < s.count; i++) held.push({ r: processingRecordAt(s, s.physical(i)), i: -1 - i, fresh: false });
    all = [...held, ...incoming].sort((a, b) => a.r.timestamp - b.r.timestamp);
    s.clearHistory();
  }
  for (const { r, fresh } of all) {
    s.push(r.timestamp, s.operationId(r.operation), r.durationMs + 0, r.success, r.photoId ?? NaN, r.jobId, r.stage, r.errorMessage, fresh);
  }
}

function appendSamples<R extends { timestamp: number; operation: string | null }>(
  store: SampleStore,
  schema: SampleSchema<R, string>,
  list: R[],
  readBack: (s: SampleStore, p: number) => R,
): void {
  if (list.length === 0) return;
  let all = [...list].sort((a, b) => a.timestamp - b.timestamp);
  if (all[0]!.timestamp < store.lastTimestamp) {
    const held: R[] = [];
    for (let i = 0; i < store.count; i++) held.push(readBack(store, store.physical(i)));
    all = [...held, ...all].sort((a, b) => a.timestamp - b.timestamp);
    store.clear();
  }
  const columns = schema.columns;
  const row = new Float64Array(columns.length);
  for (const r of all) {
    for (let c = 0; c < columns.length; c++) {
      const v = (r as Record<string, unknown>)[columns[c]!.key] as number | null | undefined;
      row[c] = v == null ? NaN : v;
    }
    store.push(r.timestamp, row, r.operation);
  }
}
