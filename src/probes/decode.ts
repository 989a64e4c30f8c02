/**
 * The one decoder of the addon's buffers (layout: src/schema/layout.ts):
 * memory slots, GPU blocks and whole sampler batches. Units and nulls are
 * decided here and nowhere else: bytes -> MiB, mW -> W, NaN -> null. Its
 * users: readMemory() and readGpusSync() (readings), the collector's
 * ingest (store columns) and `perfprobe run` (samples).
 *
 * Rows: a decoded memory record or GPU block is first a Float64Array of
 * figures in field units (NaN = unknown), so that ingesting a batch writes
 * store columns without an object per record; readings and run samples are
 * built from rows by functions compiled from the schema.
 */
import { compile, objectLiteral } from '../schema/compile.js';
import { GPU_FIELDS, GPU_PROCESS_FIELDS, GPU_RUN_SAMPLE_KEYS, type GpuFieldKey, type GpuFieldSpec, type GpuProcess, type GpuReading, type GpuStatus } from '../schema/gpu.js';
import { BYTES_PER_MB, GPU_SLOTS, GpuSlot, GpuStatusCode, HeaderSlot, MemorySlot, RECORD_GPU_OFFSET, RECORD_MEMORY_OFFSET } from '../schema/layout.js';
import { MEMORY_SCHEMA, type MemoryReading } from '../schema/memory.js';
import type { SampleBatch } from './types.js';

const nn = (x: number): number | null => (x === x ? x : null);

// ------------------------------------------------------------------ memory

/** A memory row: MEMORY_SCHEMA's store columns first (same order), then the reading-only figures. MiB, %, NaN = unknown. */
export const MEMORY_ROW = Object.freeze([...MEMORY_SCHEMA.columns.map((c) => c.key), 'processPeakMb', 'swapTotalMb', 'swapUsedMb'] as const);
export const MemoryRow = Object.freeze(Object.fromEntries(MEMORY_ROW.map((k, i) => [k, i]))) as { readonly [K in (typeof MEMORY_ROW)[number]]: number };

/**
 * Memory slots at `offset` into `row`. Policy: available is MemAvailable,
 * or MemFree on kernels before 3.14 that lack it; used = total - available
 * (as `free` counts it); the peak is at least the RSS now (the kernel
 * updates its high-water mark lazily); swap used = total - free.
 */
export function decodeMemory(slots: ArrayLike<number>, offset: number, row: Float64Array): void {
  const total = slots[offset + MemorySlot.totalBytes]!;
  let available = slots[offset + MemorySlot.availableBytes]!;
  if (!Number.isFinite(available)) available = slots[offset + MemorySlot.freeBytes]!;
  const used = total - available;
  const rss = slots[offset + MemorySlot.processRssBytes]!;
  const peak = slots[offset + MemorySlot.processPeakRssBytes]!;
  const swapTotal = slots[offset + MemorySlot.swapTotalBytes]!;
  const swapFree = slots[offset + MemorySlot.swapFreeBytes]!;
  row[MemoryRow.totalMb] = total / BYTES_PER_MB;
  row[MemoryRow.usedMb] = used / BYTES_PER_MB;
  row[MemoryRow.availableMb] = available / BYTES_PER_MB;
  row[MemoryRow.percent] = total > 0 ? (used / total) * 100 : NaN;
  row[MemoryRow.processMemoryMb] = rss / BYTES_PER_MB;
  row[MemoryRow.processPeakMb] = Number.isFinite(peak) ? Math.max(peak, rss) / BYTES_PER_MB : NaN;
  row[MemoryRow.swapTotalMb] = Number.isFinite(swapTotal) ? swapTotal / BYTES_PER_MB : NaN;
  row[MemoryRow.swapUsedMb] = Number.isFinite(swapTotal) && Number.isFinite(swapFree) ? (swapTotal - swapFree) / BYTES_PER_MB : NaN;
}

/** A MemoryReading from a memory row (percent reads 0 when the total is unknown, as it always has). */
export function memoryReadingFromRow(row: Float64Array, timestamp: number): MemoryReading {
  const total = row[MemoryRow.totalMb]!;
  return {
    timestamp,
    totalMb: total,
    usedMb: row[MemoryRow.usedMb]!,
    availableMb: row[MemoryRow.availableMb]!,
    percent: total > 0 ? row[MemoryRow.percent]! : 0,
    processMemoryMb: row[MemoryRow.processMemoryMb]!,
    processPeakMb: nn(row[MemoryRow.processPeakMb]!),
    swapTotalMb: nn(row[MemoryRow.swapTotalMb]!),
    swapUsedMb: nn(row[MemoryRow.swapUsedMb]!),
    heapUsedMb: null,
  };
}

const memoryScratch = new Float64Array(MEMORY_ROW.length);

/** Memory slots at `offset` as a MemoryReading. */
export function decodeMemoryReading(slots: ArrayLike<number>, offset: number, timestamp: number): MemoryReading {
  decodeMemory(slots, offset, memoryScratch);
  return memoryReadingFromRow(memoryScratch, timestamp);
}

// --------------------------------------------------------------------- GPU

const rowFields = (GPU_FIELDS as readonly GpuFieldSpec[]).filter(
  (f) => 'slot' in f.source || 'percentOf' in f.source || (f.source as { context?: string }).context === 'gpuId',
);

/** A GPU row: every numeric GPU field (gpuId, then each slot-fed or derived figure) in GPU_FIELDS order, field units, NaN = unknown. */
export const GPU_ROW: readonly GpuFieldKey[] = Object.freeze(rowFields.map((f) => f.key));
/** Index in a GPU row of each numeric GPU field. */
export const GpuRow: Readonly<Record<GpuFieldKey, number>> = Object.freeze(Object.fromEntries(GPU_ROW.map((k, i) => [k, i]))) as never;

for (const [i, f] of rowFields.entries()) {
  if ('percentOf' in f.source) {
    for (const k of f.source.percentOf) {
      const j = GPU_ROW.indexOf(k);
      if (j < 0 || j >= i) throw new Error(`GPU field ${f.key}: percentOf needs earlier numeric fields, got ${k}`);
    }
  }
}

/** Each numeric GPU field as a local `v<row index>` of a compiled body reading block `d` at offset `o` (field units, NaN = unknown). */
function rowLocals(): string {
  return rowFields
    .map((f, i) => {
      const s = f.source;
      if ('slot' in s) return `const v${i} = d[o + ${GpuSlot[s.slot as keyof typeof GpuSlot]}]${s.per === 1 ? '' : ` / ${s.per}`};`;
      if ('percentOf' in s) {
        const [a, b] = s.percentOf.map((k) => GPU_ROW.indexOf(k));
        return `const v${i} = v${a} === v${a} && v${b} > 0 ? (v${a} / v${b}) * 100 : NaN;`;
      }
      return `const v${i} = gpuId;`;
    })
    .join('\n');
}

/** Fills a GPU row from the block at `offset` (gpuId given by the caller). */
export const decodeGpuRow: (data: ArrayLike<number>, offset: number, gpuId: number, row: Float64Array) => void = compile(
  'decodeGpuRow',
  ['d', 'o', 'gpuId', 'row'],
  `${rowLocals()}\n${rowFields.map((_, i) => `row[${i}] = v${i};`).join('\n')}`,
);

const STATUS: readonly GpuStatus[] = ['ok', 'lost', 'error'];
if (STATUS.some((s, code) => GpuStatusCode[s] !== code)) throw new Error('GPU status names out of step with GpuStatusCode');

/** The status slot's code as a name (anything unknown reads 'error'). */
export function gpuStatusOf(code: number): GpuStatus {
  return STATUS[code] ?? 'error';
}

/** Statics of a device (read once at open). */
export interface GpuStatics {
  name: string | null;
  uuid: string | null;
}

/**
 * One GPU block (GPU_SLOTS doubles at `offset`, as the sampler records and
 * nvmlRead write them) into a GpuReading, straight from the block:
 * compiled from GPU_FIELDS (the reading's fields, in table order).
 * `statics` gives name and uuid.
 */
export const decodeGpuBlock: (
  data: ArrayLike<number>,
  offset: number,
  gpuId: number,
  timestamp: number,
  statics?: GpuStatics | null,
  processes?: GpuProcess[],
) => GpuReading = compile(
  'decodeGpuBlock',
  ['d', 'o', 'gpuId', 'timestamp', 'statics', 'processes'],
  `${rowLocals()}\nconst s = statics == null ? null : statics;\nreturn ${objectLiteral(
    (GPU_FIELDS as readonly GpuFieldSpec[])
      .filter((f) => f.reading)
      .map((f) => {
        const src = f.source;
        if ('context' in src) {
          if (src.context === 'gpuId') return [f.key, 'gpuId'] as const;
          if (src.context === 'name' || src.context === 'uuid') return [f.key, `s === null ? null : (s.${src.context} ?? null)`] as const;
          if (src.context === 'processes') return [f.key, 'processes == null ? [] : processes'] as const;
          if (src.context === 'status') return [f.key, `gpuStatusOf(d[o + ${GpuSlot.status}] ?? ${GpuStatusCode.error})`] as const;
          return [f.key, src.context] as const;
        }
        return [f.key, `nn(v${GPU_ROW.indexOf(f.key)})`] as const;
      }),
  )};`,
  { nn, gpuStatusOf },
);

/** The addon's process tuples ([pid, bytes, pid, bytes, ...]) as GpuProcess entries (GPU_PROCESS_FIELDS). */
export const decodeProcesses: (tuples: ArrayLike<number> | null | undefined) => GpuProcess[] = compile(
  'decodeProcesses',
  ['t'],
  `const out = [];\nif (!t) return out;\nfor (let i = 0; i + ${GPU_PROCESS_FIELDS.length - 1} < t.length; i += ${GPU_PROCESS_FIELDS.length}) out.push(${objectLiteral(
    GPU_PROCESS_FIELDS.map((p) => {
      const v = `t[i + ${p.index}]`;
      const scaled = p.per === 1 ? v : `${v} / ${p.per}`;
      return [p.key, p.nullable ? `(${v} === ${v} ? ${scaled} : null)` : scaled] as const;
    }),
  )});\nreturn out;`,
);

/** A `perfprobe run` sample's GPU entry from a row (GPU_RUN_SAMPLE_KEYS, in order). */
export const gpuRunSampleFromRow: (row: Float64Array, status: GpuStatus) => Record<(typeof GPU_RUN_SAMPLE_KEYS)[number], unknown> = compile(
  'gpuRunSampleFromRow',
  ['row', 'status'],
  `return ${objectLiteral(GPU_RUN_SAMPLE_KEYS.map((k) => [k, k === 'status' ? 'status' : k === 'gpuId' ? `row[${GpuRow.gpuId}]` : `nn(row[${GpuRow[k]}])`] as const))};`,
  { nn },
);

// ------------------------------------------------------------ sampler batch

/** What decodeBatch hands over, per record. Rows are reused: copy what you keep. */
export interface BatchVisitor {
  /** First, once per record: its wall-clock time, the memory row, and the watched tree's RSS (MiB; NaN: none watched, or 0 from a root that exited). */
  record(timestamp: number, memory: Float64Array, treeRssMb: number): void;
  /** Then once per GPU block of that record (lost GPUs included: status 'lost', figures NaN). */
  gpu(timestamp: number, status: GpuStatus, row: Float64Array): void;
}

const batchMemory = new Float64Array(MEMORY_ROW.length);
const batchGpu = new Float64Array(GPU_ROW.length);

/** Walks a drained batch (oldest record first), decoding each record once. */
export function decodeBatch(batch: SampleBatch, visit: BatchVisitor): void {
  const { count, recordSlots, data } = batch;
  const fit = ((recordSlots - RECORD_GPU_OFFSET) / GPU_SLOTS) | 0;
  for (let r = 0; r < count; r++) {
    const base = r * recordSlots;
    const ts = data[base + HeaderSlot.wallClockMs]!;
    decodeMemory(data, base + RECORD_MEMORY_OFFSET, batchMemory);
    const tree = data[base + HeaderSlot.treeRssBytes]!;
    // A live process always has RSS > 0: a 0 comes from a tree whose root already exited (a zombie), so unknown.
    visit.record(ts, batchMemory, tree > 0 ? tree / BYTES_PER_MB : NaN);
    const gpus = Math.min(data[base + HeaderSlot.gpuCount]! | 0, batch.gpuCount, fit);
    for (let g = 0; g < gpus; g++) {
      const o = base + RECORD_GPU_OFFSET + g * GPU_SLOTS;
      decodeGpuRow(data, o, g, batchGpu);
      visit.gpu(ts, gpuStatusOf(data[o + GpuSlot.status]!), batchGpu);
    }
  }
}
