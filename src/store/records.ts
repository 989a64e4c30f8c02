/**
 * Records out of the store: record objects built on read (the store keeps
 * only columns), and iterators that stay on their records while the ring
 * evicts under them. Memory and GPU records are read by functions compiled
 * from their schemas; the processing record by hand, over the processing
 * store's hand-picked columns (test/schema/writers-follow-schema.test.ts
 * checks it against PROCESSING_SCHEMA).
 */
import { compile, objectLiteral } from '../schema/compile.js';
import { GPU_SCHEMA, type GpuUsageMetric } from '../schema/gpu.js';
import { MEMORY_SCHEMA, type MemoryUsageMetric } from '../schema/memory.js';
import { type ProcessingTimeMetric } from '../schema/processing.js';
import { type SampleSchema } from '../schema/record.js';
import type { ProcessingStore } from './processing.js';
import type { Ring } from './ring.js';
import type { SampleStore } from './samples.js';

const nn = (x: number): number | null => (x === x ? x : null);

/** The processing record in physical slot p. */
export function processingRecordAt(s: ProcessingStore, p: number): ProcessingTimeMetric {
  const photo = s.photo[p];
  return {
    timestamp: s.ts[p],
    operation: s.ops[s.op[p]].name,
    durationMs: s.dur[p],
    photoId: photo === photo ? photo : null,
    jobId: s.strings.get(s.job[p]),
    stage: s.strings.get(s.stage[p]),
    success: s.ok[p] === 1,
    errorMessage: s.strings.get(s.err[p]),
  };
}

/** A reader of one record type out of its sample store, compiled from the schema (NaN reads back as null). */
export function sampleRecordReader<R extends object>(schema: SampleSchema<R, string>): (s: SampleStore, p: number) => R {
  const entries = schema.fields.map((f) => {
    if (f.key === 'timestamp') return [f.key, 's.ts[p]'] as const;
    if (f.key === 'operation') return [f.key, 's.strings.get(s.op[p])'] as const;
    const c = schema.columns.indexOf(f as never);
    return [f.key, f.nullable ? `nn(v[${c}][p])` : `v[${c}][p]`] as const;
  });
  return compile(`${schema.type}RecordAt`, ['s', 'p'], `const v = s.values;\nreturn ${objectLiteral(entries)};`, { nn });
}

export const memoryRecordAt: (s: SampleStore, p: number) => MemoryUsageMetric = sampleRecordReader(MEMORY_SCHEMA);
export const gpuRecordAt: (s: SampleStore, p: number) => GpuUsageMetric = sampleRecordReader(GPU_SCHEMA);

/** The newest record of a sample store (it must hold one). */
export function newestRecord<R>(s: SampleStore, read: (s: SampleStore, p: number) => R): R {
  return read(s, s.physical(s.count - 1));
}

/**
 * Iterates the records held when it is called (not when it is first
 * advanced: an exporter opens its file in between), oldest first, from
 * logical index `from`; `read` returns null to skip one. Records evicted
 * meanwhile are skipped, records added meanwhile are not visited, and a
 * clear() ends it.
 */
export function iterateRecords<T>(store: Ring, from: number, read: (p: number) => T | null): IterableIterator<T> {
  return walk(store, from, store.count, store.evictedTotal, store.generation, read);
}

function* walk<T>(store: Ring, from: number, end: number, evicted0: number, generation: number, read: (p: number) => T | null): IterableIterator<T> {
  for (let i = from; i < end; i++) {
    if (store.generation !== generation) return;
    const j = i - (store.evictedTotal - evicted0);
    if (j < 0) continue;
    if (j >= store.count) return;
    const r = read(store.physical(j));
    if (r !== null) yield r;
  }
}

/** First logical index of a query's window: the last `durationMinutes` before `now`, and after `since`. */
export function windowStart(store: Ring, query: { durationMinutes?: number; since?: number } | undefined, now: number): number {
  let from = 0;
  if (query?.durationMinutes !== undefined) from = store.lowerBound(now - query.durationMinutes * 60_000);
  if (query?.since !== undefined) from = Math.max(from, store.upperBound(query.since));
  return from;
}
