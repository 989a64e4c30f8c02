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
import { compile, ident, objectLiteral } from '../schema/compile.js';
import {
  CLOCKS_EVENT_REASONS,
  GPU_FIELDS,
  GPU_MIG_DEVICE_FIELDS,
  GPU_PROCESS_FIELDS,
  GPU_RUN_SAMPLE_KEYS,
  type GpuFieldKey,
  type GpuFieldSpec,
  type GpuMig,
  type GpuProcess,
  type GpuReading,
  type GpuStatus,
} from '../schema/gpu.js';
import { BYTES_PER_MB, GPU_SLOTS, GpuSlot, GpuStatusCode, HeaderSlot, MemorySlot, RECORD_GPU_OFFSET, RECORD_MEMORY_OFFSET } from '../schema/layout.js';
import { MEMORY_SCHEMA, type MemoryReading } from '../schema/memory.js';
import type { SampleBatch } from './types.js';

const nn = (x: number): number | null => (x === x ? x : null);

// ------------------------------------------------------------------ memory

/** A memory row: MEMORY_SCHEMA's store columns first (same order), then the reading-only figures. MiB, %, NaN = unknown. */
export const MEMORY_ROW = Object.freeze([...MEMORY_SCHEMA.columns.map((c) => c.key), 'processPeakMb', 'swapTotalMb', 'swapUsedMb'] as const);
export const MemoryRow = Object.freeze(Object.fromEntries(MEMORY_ROW.map((k, i) => [k, i]))) as { readonly [K in (typeof MEMORY_ROW)[number]]: number };

// The memory policy, used by both the row decoder (store columns) and the
// reading decoder (readMemory()): available is MemAvailable, or MemFree on
// kernels before 3.14 that lack it; used = total - available (as `free`
// counts it); the peak is at least the RSS now (the kernel updates its
// high-water mark lazily); swap used = total - free. Bytes in, NaN = unknown.

function availableBytes(slots: ArrayLike<number>, offset: number): number {
  const available = slots[offset + MemorySlot.availableBytes]!;
  return Number.isFinite(available) ? available : slots[offset + MemorySlot.freeBytes]!;
}

function peakBytes(slots: ArrayLike<number>, offset: number): number {
  const peak = slots[offset + MemorySlot.processPeakRssBytes]!;
  return Number.isFinite(peak) ? Math.max(peak, slots[offset + MemorySlot.processRssBytes]!) : NaN;
}

function swapUsedBytes(slots: ArrayLike<number>, offset: number): number {
  const swapTotal = slots[offset + MemorySlot.swapTotalBytes]!;
  const swapFree = slots[offset + MemorySlot.swapFreeBytes]!;
  return Number.isFinite(swapTotal) && Number.isFinite(swapFree) ? swapTotal - swapFree : NaN;
}

function swapTotalBytes(slots: ArrayLike<number>, offset: number): number {
  const swapTotal = slots[offset + MemorySlot.swapTotalBytes]!;
  return Number.isFinite(swapTotal) ? swapTotal : NaN;
}

/** Memory slots at `offset` into `row` (MiB, %, NaN = unknown). */
export function decodeMemory(slots: ArrayLike<number>, offset: number, row: Float64Array): void {
  const total = slots[offset + MemorySlot.totalBytes]!;
  const available = availableBytes(slots, offset);
  const used = total - available;
  row[MemoryRow.totalMb] = total / BYTES_PER_MB;
  row[MemoryRow.usedMb] = used / BYTES_PER_MB;
  row[MemoryRow.availableMb] = available / BYTES_PER_MB;
  row[MemoryRow.percent] = total > 0 ? (used / total) * 100 : NaN;
  row[MemoryRow.processMemoryMb] = slots[offset + MemorySlot.processRssBytes]! / BYTES_PER_MB;
  row[MemoryRow.processPeakMb] = peakBytes(slots, offset) / BYTES_PER_MB;
  row[MemoryRow.swapTotalMb] = swapTotalBytes(slots, offset) / BYTES_PER_MB;
  row[MemoryRow.swapUsedMb] = swapUsedBytes(slots, offset) / BYTES_PER_MB;
}

/**
 * Memory slots at `offset` as a MemoryReading: the same policy and figures
 * as decodeMemory's row, built straight from the slots (readMemory()'s hot
 * path: no row written and read back). Percent reads 0 when the total is
 * unknown, as it always has; the other unknowns read null.
 */
export function decodeMemoryReading(slots: ArrayLike<number>, offset: number, timestamp: number): MemoryReading {
  const total = slots[offset + MemorySlot.totalBytes]!;
  const available = availableBytes(slots, offset);
  const used = total - available;
  return {
    timestamp,
    totalMb: total / BYTES_PER_MB,
    usedMb: used / BYTES_PER_MB,
    availableMb: available / BYTES_PER_MB,
    percent: total > 0 ? (used / total) * 100 : 0,
    processMemoryMb: slots[offset + MemorySlot.processRssBytes]! / BYTES_PER_MB,
    processPeakMb: nn(peakBytes(slots, offset) / BYTES_PER_MB),
    swapTotalMb: nn(swapTotalBytes(slots, offset) / BYTES_PER_MB),
    swapUsedMb: nn(swapUsedBytes(slots, offset) / BYTES_PER_MB),
    heapUsedMb: null,
  };
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

const REASON_NAMES: readonly string[] = (() => {
  const names: string[] = [];
  for (const r of CLOCKS_EVENT_REASONS) names[r.bit] = r.name;
  return names;
})();
const reasonCache = new Map<number, readonly string[]>();
const REASON_CACHE_MAX = 1024;

/**
 * The names of a clocks-event-reasons bitmask (CLOCKS_EVENT_REASONS, unknown
 * bits `bit_<n>`, ascending bit order; [] for 0), null when unknown (NaN).
 * One frozen array per mask, shared by every reading with that mask (at most
 * REASON_CACHE_MAX masks are kept; others get a fresh array).
 */
export function clocksEventReasonNames(mask: number): readonly string[] | null {
  if (!(mask >= 0) || !Number.isInteger(mask)) return null;
  const hit = reasonCache.get(mask);
  if (hit !== undefined) return hit;
  const out: string[] = [];
  // Bits past 31 by division: the mask is a double, exact up to 2^53.
  for (let bit = 0, m = mask; m > 0 && bit < 64; bit++, m = Math.floor(m / 2)) {
    if (m % 2 === 1) out.push(REASON_NAMES[bit] ?? `bit_${bit}`);
  }
  const names = Object.freeze(out);
  if (reasonCache.size < REASON_CACHE_MAX) reasonCache.set(mask, names);
  return names;
}

/** The bitmask of reason names (the inverse of clocksEventReasonNames); null for null. */
export function clocksEventReasonMask(names: readonly string[] | null): number | null {
  if (names === null) return null;
  let mask = 0;
  for (const n of names) {
    const known = REASON_NAMES.indexOf(n);
    const bit = known >= 0 ? known : n.startsWith('bit_') ? Number(n.slice(4)) : -1;
    if (Number.isInteger(bit) && bit >= 0) mask += 2 ** bit;
  }
  return mask;
}

/** The JavaScript expression of a derived (non-row) field of a compiled body, from the row locals. */
function derivedExpression(f: GpuFieldSpec): string | null {
  const s = f.source;
  if ('reasonsOf' in s) return `reasons(v${GPU_ROW.indexOf(s.reasonsOf)})`;
  if ('group' in s) {
    const entries = Object.entries(s.group).map(([k, key]) => [k, `nn(v${GPU_ROW.indexOf(key)})`] as const);
    return `v${GPU_ROW.indexOf(s.when)} === 1 ? ${objectLiteral(entries)} : null`;
  }
  return null;
}

for (const f of GPU_FIELDS as readonly GpuFieldSpec[]) {
  const s = f.source;
  const needs = 'reasonsOf' in s ? [s.reasonsOf] : 'group' in s ? [s.when, ...Object.values(s.group)] : [];
  for (const k of needs) if (GPU_ROW.indexOf(k) < 0) throw new Error(`GPU field ${f.key}: ${k} is not a numeric (row) field`);
}

/**
 * One GPU block (GPU_SLOTS doubles at `offset`, as the sampler records and
 * nvmlRead write them) into a GpuReading, straight from the block:
 * compiled from GPU_FIELDS (the reading's fields, in table order).
 * `statics` gives name and uuid; `processes` and `mig` come from the
 * on-demand details (absent: [] and null).
 */
export const decodeGpuBlock: (
  data: ArrayLike<number>,
  offset: number,
  gpuId: number,
  timestamp: number,
  statics?: GpuStatics | null,
  processes?: GpuProcess[] | null,
  mig?: GpuMig | null,
) => GpuReading = compile(
  'decodeGpuBlock',
  ['d', 'o', 'gpuId', 'timestamp', 'statics', 'processes', 'mig'],
  `${rowLocals()}\nconst s = statics == null ? null : statics;\nreturn ${objectLiteral(
    (GPU_FIELDS as readonly GpuFieldSpec[])
      .filter((f) => f.reading)
      .map((f) => {
        const src = f.source;
        if ('context' in src) {
          if (src.context === 'gpuId') return [f.key, 'gpuId'] as const;
          if (src.context === 'name' || src.context === 'uuid') return [f.key, `s === null ? null : (s.${src.context} ?? null)`] as const;
          if (src.context === 'processes') return [f.key, 'processes == null ? [] : processes'] as const;
          if (src.context === 'mig') return [f.key, 'mig == null ? null : mig'] as const;
          if (src.context === 'status') return [f.key, `gpuStatusOf(d[o + ${GpuSlot.status}] ?? ${GpuStatusCode.error})`] as const;
          return [f.key, src.context] as const;
        }
        return [f.key, derivedExpression(f) ?? `nn(v${GPU_ROW.indexOf(f.key)})`] as const;
      }),
  )};`,
  { nn, gpuStatusOf, reasons: clocksEventReasonNames },
);

/** The addon's process-table objects (nvmlReadDetailed) as GpuProcess entries (GPU_PROCESS_FIELDS); null (neither list supported) as []. */
export const decodeProcesses: (list: ReadonlyArray<Record<string, unknown>> | null | undefined) => GpuProcess[] = compile(
  'decodeProcesses',
  ['list'],
  `const out = [];\nif (!list) return out;\nfor (let i = 0; i < list.length; i++) {\nconst p = list[i];\nout.push(${objectLiteral(
    GPU_PROCESS_FIELDS.map((f) => [f.key, nativeValue(f, 'p')] as const),
  )});\n}\nreturn out;`,
  { nn },
);

/** The addon's MIG object as GpuMig (GPU_MIG_DEVICE_FIELDS); null stays null. */
export const decodeMig: (mig: Record<string, unknown> | null | undefined) => GpuMig | null = compile(
  'decodeMig',
  ['m'],
  `if (!m) return null;\nconst list = m.devices || [];\nconst devices = [];\nfor (let i = 0; i < list.length; i++) {\nconst x = list[i];\ndevices.push(${objectLiteral(
    GPU_MIG_DEVICE_FIELDS.map((f) => [f.key, nativeValue(f, 'x')] as const),
  )});\n}\nreturn { currentMode: m.currentMode === true, pendingMode: m.pendingMode === true, devices };`,
  { nn },
);

/** A property of a native object as a field value: numbers / per with NaN as null, strings or null. */
function nativeValue(f: { from: string; kind: 'number' | 'string'; per: number }, obj: string): string {
  const v = `${obj}.${ident(f.from)}`;
  if (f.kind === 'string') return `(typeof ${v} === 'string' ? ${v} : null)`;
  return `(typeof ${v} === 'number' && ${v} === ${v} ? ${f.per === 1 ? v : `${v} / ${f.per}`} : null)`;
}

/** A `perfprobe run` sample's GPU entry from a row (GPU_RUN_SAMPLE_KEYS, in order). */
export const gpuRunSampleFromRow: (row: Float64Array, status: GpuStatus) => Record<(typeof GPU_RUN_SAMPLE_KEYS)[number], unknown> = compile(
  'gpuRunSampleFromRow',
  ['row', 'status'],
  `return ${objectLiteral(
    GPU_RUN_SAMPLE_KEYS.map((k) => {
      if (k === 'status') return [k, 'status'] as const;
      if (k === 'gpuId') return [k, `row[${GpuRow.gpuId}]`] as const;
      const f = (GPU_FIELDS as readonly GpuFieldSpec[]).find((x) => x.key === k)!;
      if ('reasonsOf' in f.source) return [k, `reasons(row[${GpuRow[f.source.reasonsOf]}])`] as const;
      return [k, `nn(row[${GpuRow[k]}])`] as const;
    }),
  )};`,
  { nn, reasons: clocksEventReasonNames },
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
