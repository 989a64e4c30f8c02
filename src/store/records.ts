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
import type { ProcessingView } from './processing.js';
import type { Ring, Snapshot } from './ring.js';
import type { SampleView } from './samples.js';

const nn = (x: number): number | null => (x === x ? x : null);

/** The processing record in physical slot p (of the store or a snapshot's image; never settles). */
export function processingRecordAt(s: ProcessingView, p: number): ProcessingTimeMetric {
  const photo = s.photo[p]!;
  const t = s.table;
  return {
    timestamp: s.ts[p]!,
    operation: s.aggregates[s.op[p]!]!.name,
    durationMs: s.dur[p]!,
    photoId: photo === photo ? photo : null,
    jobId: t.get(s.job[p]!),
    stage: t.get(s.stage[p]!),
    success: s.ok[p] === 1,
    errorMessage: t.get(s.err[p]!),
  };
}

/** A reader of one record type out of its sample store, compiled from the schema (NaN reads back as null). */
export function sampleRecordReader<R extends object>(schema: SampleSchema<R, string>): (s: SampleView, p: number) => R {
  const entries = schema.fields.map((f) => {
    if (f.key === 'timestamp') return [f.key, 's.ts[p]'] as const;
    if (f.key === 'operation') return [f.key, 's.strings.get(s.op[p])'] as const;
    const c = schema.columns.indexOf(f as never);
    return [f.key, f.nullable ? `nn(v[${c}][p])` : `v[${c}][p]`] as const;
  });
  return compile(`${schema.type}RecordAt`, ['s', 'p'], `const v = s.values;\nreturn ${objectLiteral(entries)};`, { nn });
}

export const memoryRecordAt: (s: SampleView, p: number) => MemoryUsageMetric = sampleRecordReader(MEMORY_SCHEMA);
export const gpuRecordAt: (s: SampleView, p: number) => GpuUsageMetric = sampleRecordReader(GPU_SCHEMA);

/** The newest record of a sample store (it must hold one). */
export function newestRecord<R>(s: SampleView & Ring, read: (s: SampleView, p: number) => R): R {
  return read(s, s.physical(s.count - 1));
}

/**
 * Iterates the records held when it is called (not when it is first
 * advanced: an exporter opens its file in between), oldest first, from
 * logical index `from`: a snapshot (src/store/ring.ts). Records evicted
 * meanwhile are still visited (the ring reads them out for it before it
 * drops them, at most SNAPSHOT_SPILL_LIMIT held at once, else the iterator
 * throws ERR_PERFPROBE_SNAPSHOT_OVERRUN), a clear() meanwhile does not end
 * it (it reads the arrays the clear let go of), and records added meanwhile
 * are not visited. `read` turns a physical slot of the store's view into a
 * record, or null to skip it; it must not settle the store.
 */
export function iterateRecords<V, T>(store: Ring, from: number, read: (view: V, p: number) => T | null): IterableIterator<T> {
  return walk(store, store.snapshot(from, read));
}

function* walk<V, T>(store: Ring, snap: Snapshot<V, T>): IterableIterator<T> {
  try {
    while (snap.next < snap.end) {
      if (snap.failed !== null) throw snap.failed;
      let r: T | null;
      if (snap.held > 0) {
        r = snap.spilled[snap.spilledHead]!;
        snap.spilled[snap.spilledHead++] = null;
        if (snap.spilledHead === snap.spilled.length) {
          snap.spilled.length = 0;
          snap.spilledHead = 0;
        }
      } else if (snap.image !== null) {
        const im = snap.image;
        let p = im.head + (snap.next - im.first);
        if (p < 0) p += im.capacity;
        else if (p >= im.capacity) p -= im.capacity;
        r = snap.read(im.view, p);
      } else {
        const p = store.slotOfSeq(snap.next);
        if (p < 0) throw new Error(`record iterator: record ${snap.next} left the history without being read out for it (a bug: please report it)`);
        r = snap.read(store.currentView() as V, p);
      }
      snap.next++;
      if (r !== null) yield r;
    }
    if (snap.failed !== null) throw snap.failed;
  } finally {
    store.release(snap);
  }
}

/** First logical index of a query's window: the last `durationMinutes` before `now`, and after `since`. */
export function windowStart(store: Ring, query: { durationMinutes?: number; since?: number } | undefined, now: number): number {
  let from = 0;
  if (query?.durationMinutes !== undefined) from = store.lowerBound(now - query.durationMinutes * 60_000);
  if (query?.since !== undefined) from = Math.max(from, store.upperBound(query.since));
  return from;
}
