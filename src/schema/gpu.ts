/**
 * Every GPU field, once. One row says what the field is (key, snake_case
 * name, kind, nullability, unit) and where its value comes from when the
 * probe decodes a native GPU block (a slot and its native units per unit, a
 * derivation, or the probe's context). The lists below the table say where
 * each field appears:
 *
 *   GPU_FIELDS           GpuReading (readGpus, readGpusSync, watch, info), in this order
 *   GPU_RECORD_KEYS      GpuUsageMetric: the stored history, JSON/CSV export, import
 *   GPU_GAUGES           Prometheus text, prom-client and OpenTelemetry gauges
 *   GPU_RUN_SAMPLE_KEYS  `perfprobe run` samples (JSON, status line)
 *   GPU_STREAM_KEYS      the dashboard's SSE rows
 *   GPU_PROCESS_FIELDS   GpuReading.processes entries (the addon's per-process tuples)
 *
 * Adding a GPU field (docs/ARCHITECTURE.md has the recipe): a slot in
 * native/gpu/gpu_api.h and ../schema/layout.ts, the NVML call that fills it
 * in native/gpu/gpu_reader.cc, its line in GpuReading, its row here, and its
 * key in the lists it should appear in. Decoders, store columns, record
 * objects, writers, readers, checks and gauges follow from the table.
 */
import { BYTES_PER_MB, type GpuSlotName } from './layout.js';
import { field, type FieldKind, type FieldSpec } from './field.js';
import { sampleSchema } from './record.js';

export type GpuStatus = 'ok' | 'lost' | 'error';

export interface GpuProcess {
  pid: number;
  /** null when the driver does not say (e.g. under some virtualisation). */
  usedMemoryMb: number | null;
}

export interface GpuReading {
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
  /** Device index as NVML / nvidia-smi number it. */
  gpuId: number;
  name: string | null;
  uuid: string | null;
  loadPercent: number | null;
  memoryUtilPercent: number | null;
  memoryTotalMb: number | null;
  /** The v2 figure nvidia-smi shows (driver-reserved memory excluded). */
  memoryUsedMb: number | null;
  memoryReservedMb: number | null;
  memoryFreeMb: number | null;
  /** memoryUsedMb / memoryTotalMb x 100. */
  memoryPercent: number | null;
  temperatureCelsius: number | null;
  powerWatts: number | null;
  powerLimitWatts: number | null;
  smClockMhz: number | null;
  memoryClockMhz: number | null;
  fanPercent: number | null;
  /** This process's GPU memory: 0 when not in the list, null when the list is unsupported. */
  processGpuMemoryMb: number | null;
  processes: GpuProcess[];
  status: GpuStatus;
}

/** Where a field's value comes from when a GPU block is decoded (src/probes/decode.ts). */
export type GpuSource =
  /** data[offset + GpuSlot[slot]] / per (the native unit per unit of the field); NaN (unsupported) becomes null. */
  | { readonly slot: GpuSlotName; readonly per: number }
  /** a / b x 100 when both are known and b > 0, else null (keys of earlier rows). */
  | { readonly percentOf: readonly [GpuFieldKey, GpuFieldKey] }
  /** Given by the probe: the sample's time, the device index, the static facts, the process list, the status slot. */
  | { readonly context: 'timestamp' | 'gpuId' | 'name' | 'uuid' | 'processes' | 'status' };

/** GpuReading's keys, and fields decoded but kept out of the reading (`reading: false`). */
export type GpuFieldKey = keyof GpuReading | 'treeGpuMemoryMb';

export interface GpuFieldSpec<K extends GpuFieldKey = GpuFieldKey> extends FieldSpec<K> {
  readonly source: GpuSource;
  /** Part of GpuReading. */
  readonly reading: boolean;
}

function gpu<K extends GpuFieldKey>(
  key: K,
  snake: string,
  kind: FieldKind,
  nullable: boolean,
  unit: string,
  source: GpuSource,
  doc: string,
  reading = true,
): GpuFieldSpec<K> {
  return Object.freeze({ ...field(key, snake, kind, nullable, unit, doc), source, reading });
}

/** Every GPU field, in GpuReading order. */
export const GPU_FIELDS = Object.freeze([
  gpu('timestamp', 'timestamp', 'timestamp', false, 'epoch ms', { context: 'timestamp' }, 'when the sample was taken'),
  gpu('gpuId', 'gpu_id', 'id', false, '', { context: 'gpuId' }, 'device index as NVML and nvidia-smi number it'),
  gpu('name', 'name', 'string', true, '', { context: 'name' }, 'device name, read once at open'),
  gpu('uuid', 'uuid', 'string', true, '', { context: 'uuid' }, 'device UUID, read once at open'),
  gpu('loadPercent', 'load_percent', 'number', true, '%', { slot: 'loadPercent', per: 1 }, 'utilization.gpu'),
  gpu('memoryUtilPercent', 'memory_util_percent', 'number', true, '%', { slot: 'memoryUtilPercent', per: 1 }, 'utilization.memory'),
  gpu('memoryTotalMb', 'memory_total_mb', 'number', true, 'MiB', { slot: 'memoryTotalBytes', per: BYTES_PER_MB }, 'memory in total'),
  gpu('memoryUsedMb', 'memory_used_mb', 'number', true, 'MiB', { slot: 'memoryUsedBytes', per: BYTES_PER_MB }, 'memory in use (v2: driver-reserved excluded, as nvidia-smi)'),
  gpu('memoryReservedMb', 'memory_reserved_mb', 'number', true, 'MiB', { slot: 'memoryReservedBytes', per: BYTES_PER_MB }, 'driver-reserved memory (v2 only)'),
  gpu('memoryFreeMb', 'memory_free_mb', 'number', true, 'MiB', { slot: 'memoryFreeBytes', per: BYTES_PER_MB }, 'free memory'),
  gpu('memoryPercent', 'memory_percent', 'number', true, '%', { percentOf: ['memoryUsedMb', 'memoryTotalMb'] }, 'memoryUsedMb / memoryTotalMb x 100'),
  gpu('temperatureCelsius', 'temperature_celsius', 'number', true, 'C', { slot: 'temperatureC', per: 1 }, 'GPU core temperature'),
  gpu('powerWatts', 'power_watts', 'number', true, 'W', { slot: 'powerMilliwatts', per: 1000 }, 'power draw'),
  gpu('powerLimitWatts', 'power_limit_watts', 'number', true, 'W', { slot: 'powerLimitMilliwatts', per: 1000 }, 'enforced power limit'),
  gpu('smClockMhz', 'sm_clock_mhz', 'number', true, 'MHz', { slot: 'smClockMhz', per: 1 }, 'SM clock'),
  gpu('memoryClockMhz', 'memory_clock_mhz', 'number', true, 'MHz', { slot: 'memoryClockMhz', per: 1 }, 'memory clock'),
  gpu('fanPercent', 'fan_percent', 'number', true, '%', { slot: 'fanPercent', per: 1 }, 'fan speed'),
  gpu('processGpuMemoryMb', 'process_gpu_memory_mb', 'number', true, 'MiB', { slot: 'processMemoryBytes', per: BYTES_PER_MB }, "this process's GPU memory: 0 when not listed, null when the list is unsupported"),
  gpu('processes', 'processes', 'object', false, '', { context: 'processes' }, 'the compute processes on the device (GPU_PROCESS_FIELDS)'),
  gpu('status', 'status', 'string', false, '', { context: 'status' }, "'ok', 'lost' (NVML_ERROR_GPU_IS_LOST) or 'error' (some call failed: the fields that read are kept)"),
  gpu('treeGpuMemoryMb', 'tree_gpu_memory_mb', 'number', true, 'MiB', { slot: 'watchedMemoryBytes', per: BYTES_PER_MB }, "GPU memory of the sampler's watched process tree (perfprobe run)", false),
] as const);

type Missing = Exclude<keyof GpuReading, (typeof GPU_FIELDS)[number]['key']>;
// A GpuReading key without a row (or a row for a key GpuReading lacks) fails to compile here.
const everyReadingKeyHasARow: [Missing] extends [never] ? true : Missing = true;
void everyReadingKeyHasARow;

/** The row of a GPU field. */
export function gpuField(key: GpuFieldKey): GpuFieldSpec {
  const f = (GPU_FIELDS as readonly GpuFieldSpec[]).find((r) => r.key === key);
  if (!f) throw new Error(`no GPU field ${key}`);
  return f;
}

/** The fields of GpuUsageMetric between timestamp and operation: the GPU history's store columns, in export order. */
export const GPU_RECORD_KEYS = Object.freeze([
  'gpuId',
  'loadPercent',
  'memoryUsedMb',
  'memoryTotalMb',
  'memoryPercent',
  'temperatureCelsius',
  'powerWatts',
] as const);
export type GpuRecordKey = (typeof GPU_RECORD_KEYS)[number];

/** A stored GPU record: one GPU at one time. Figures the probe could not read are null. */
export interface GpuUsageMetric extends Pick<GpuReading, 'timestamp' | GpuRecordKey> {
  /** Label given to recordGpuUsage(operation); null for sampled records. */
  operation: string | null;
}

export const GPU_SCHEMA = sampleSchema<GpuUsageMetric>()('gpu', 'gpu_metrics', [
  gpuField('timestamp') as FieldSpec<'timestamp'>,
  ...GPU_RECORD_KEYS.map((k) => gpuField(k) as FieldSpec<GpuRecordKey>),
  field('operation', 'operation', 'operation', true, '', 'label given to recordGpuUsage(operation)'),
]);

/** Store column index of each GPU record figure. */
export const GpuField = GPU_SCHEMA.column;

/** A Prometheus / OpenTelemetry gauge of one GPU figure, labelled gpu, uuid and name. */
export interface GpuGaugeSpec {
  /** The GPU field it reads (from a live reading, or from the newest record when the record has it). */
  readonly field: GpuFieldKey;
  /** Key in MetricsSnapshot.gpus[i] (GpuGauges). */
  readonly gauge: string;
  /** 'bytes': round(MiB x 1048576); 'hertz': MHz x 1e6; 'same': as it is. */
  readonly convert: 'same' | 'bytes' | 'hertz';
  readonly prometheus: { readonly name: string; readonly help: string; readonly unit: string };
  readonly otel: { readonly name: string; readonly unit: string; readonly description: string };
}

/** The GPU gauges, in exposition order. */
export const GPU_GAUGES = Object.freeze([
  { field: 'loadPercent', gauge: 'utilizationPercent', convert: 'same', prometheus: { name: 'perfprobe_gpu_utilization_percent', help: 'GPU utilization in percent (0-100).', unit: 'percent' }, otel: { name: 'perfprobe.gpu.utilization', unit: '%', description: 'GPU utilization (0-100).' } },
  { field: 'memoryUsedMb', gauge: 'memoryUsedBytes', convert: 'bytes', prometheus: { name: 'perfprobe_gpu_memory_used_bytes', help: 'GPU memory in use in bytes.', unit: 'bytes' }, otel: { name: 'perfprobe.gpu.memory.used', unit: 'By', description: 'GPU memory in use.' } },
  { field: 'memoryTotalMb', gauge: 'memoryTotalBytes', convert: 'bytes', prometheus: { name: 'perfprobe_gpu_memory_total_bytes', help: 'GPU memory in total in bytes.', unit: 'bytes' }, otel: { name: 'perfprobe.gpu.memory.total', unit: 'By', description: 'GPU memory in total.' } },
  { field: 'temperatureCelsius', gauge: 'temperatureCelsius', convert: 'same', prometheus: { name: 'perfprobe_gpu_temperature_celsius', help: 'GPU temperature in degrees Celsius.', unit: 'celsius' }, otel: { name: 'perfprobe.gpu.temperature', unit: 'Cel', description: 'GPU temperature.' } },
  { field: 'powerWatts', gauge: 'powerWatts', convert: 'same', prometheus: { name: 'perfprobe_gpu_power_watts', help: 'GPU power draw in watts.', unit: 'watts' }, otel: { name: 'perfprobe.gpu.power', unit: 'W', description: 'GPU power draw.' } },
  { field: 'smClockMhz', gauge: 'smClockHertz', convert: 'hertz', prometheus: { name: 'perfprobe_gpu_sm_clock_hertz', help: 'GPU SM clock in hertz.', unit: 'hertz' }, otel: { name: 'perfprobe.gpu.clock.sm', unit: 'Hz', description: 'GPU SM clock.' } },
  { field: 'memoryClockMhz', gauge: 'memoryClockHertz', convert: 'hertz', prometheus: { name: 'perfprobe_gpu_memory_clock_hertz', help: 'GPU memory clock in hertz.', unit: 'hertz' }, otel: { name: 'perfprobe.gpu.clock.memory', unit: 'Hz', description: 'GPU memory clock.' } },
] as const satisfies readonly GpuGaugeSpec[]);

/** One GPU's gauges; null = unknown or unsupported (the sample is left out). */
export type GpuGauges = { gpu: number; uuid: string; name: string } & {
  [K in (typeof GPU_GAUGES)[number]['gauge']]: number | null;
};

/** The GPU figures of a `perfprobe run` sample, in its JSON order. */
export const GPU_RUN_SAMPLE_KEYS = Object.freeze([
  'gpuId',
  'status',
  'loadPercent',
  'memoryUtilPercent',
  'memoryUsedMb',
  'memoryTotalMb',
  'temperatureCelsius',
  'powerWatts',
  'treeGpuMemoryMb',
] as const satisfies readonly GpuFieldKey[]);

/** The dashboard's GPU row after [timestamp]: values rounded to 2 decimals (assets/dashboard/app.js reads them by position). */
export const GPU_STREAM_KEYS = Object.freeze([
  'gpuId',
  'loadPercent',
  'memoryUsedMb',
  'memoryTotalMb',
  'temperatureCelsius',
  'powerWatts',
] as const satisfies readonly GpuRecordKey[]);

/**
 * GpuReading.processes entries: the addon gives each process as a tuple of
 * GPU_PROCESS_FIELDS.length doubles (`index` within the tuple) in native
 * units, divided by `per`; NaN becomes null where nullable.
 */
export const GPU_PROCESS_FIELDS = Object.freeze([
  { key: 'pid', index: 0, per: 1, nullable: false, unit: '', doc: 'process id' },
  { key: 'usedMemoryMb', index: 1, per: BYTES_PER_MB, nullable: true, unit: 'MiB', doc: "the process's GPU memory; null when the driver does not say" },
] as const satisfies ReadonlyArray<{ key: keyof GpuProcess; index: number; per: number; nullable: boolean; unit: string; doc: string }>);
